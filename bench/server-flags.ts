import { readFileSync } from 'node:fs';

/** The Node flags the server runs with, as `npm start` and the container image give them: a bench's server runs with them too. */
export const SERVER_FLAGS: string[] =
  /node ((?:--[\w-]+=?\S*\s+)*)--import tsx/
    .exec(JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8')).scripts.start)?.[1]
    ?.trim()
    .split(/\s+/) ?? [];
