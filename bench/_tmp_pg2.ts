import pg from 'pg';
import { readFileSync } from 'node:fs';
const T = JSON.parse(readFileSync('/tmp/bq/ids.json','utf8')).tenantId;
const variants: Record<string, string> = JSON.parse(readFileSync(process.argv[2]!, 'utf8'));
const role = process.argv[3] ?? 'omega_app';
const c = new pg.Client({ connectionString: 'postgresql://postgres@127.0.0.1:5432/omega_bq' }); await c.connect();
await c.query(`SET role ${role}`); await c.query(`SELECT set_config('app.current_tenant_id', $1, false)`, [T]);
const pid = (await c.query('SELECT pg_backend_pid() p')).rows[0].p;
const ticks = () => { const f = readFileSync(`/proc/${pid}/stat`,'utf8').split(') ')[1]!.split(' '); return (Number(f[11]) + Number(f[12])) * 10; };
const res: Record<string, number[]> = {};
const paramsOf = (sql: string) => sql.includes('$2') ? [T, 51] : [T];
for (const [k, sql] of Object.entries(variants)) for (let i = 0; i < 30; i++) await c.query({ text: sql, values: paramsOf(sql), name: process.env.NAMED ? 'n_' + k : undefined });
for (let b = 0; b < 12; b++) for (const [k, sql] of Object.entries(variants)) {
  const k0 = ticks(); const n = 150;
  for (let i = 0; i < n; i++) await c.query({ text: sql, values: paramsOf(sql), name: process.env.NAMED ? 'n_' + k : undefined });
  (res[k] ??= []).push((ticks() - k0) / n);
}
for (const [k, v] of Object.entries(res)) { v.sort((a,b)=>a-b); console.log(k.padEnd(30), 'PG CPU ms/query median', v[v.length>>1]!.toFixed(3), 'min', v[0]!.toFixed(3)); }
await c.end();
