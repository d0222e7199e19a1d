import { randomBytes } from 'node:crypto';
import { CreateUserDocument, LoginDocument } from '../generated/graphql.js';
import type { SignedInUser, TestServer } from './server.js';

export const STRONG_PASSWORD = 'correct horse battery staple';

/** A user with a password, created by the admin through the API, in the admin's tenant. */
export async function aUserWithPassword(admin: SignedInUser, role: 'admin' | 'operator' | 'user' | 'readonly' = 'user', password = STRONG_PASSWORD) {
  const suffix = randomBytes(4).toString('hex');
  const result = await admin.request(CreateUserDocument, {
    input: { username: `u-${suffix}`, email: `U-${suffix}@Example.test`, role: role.toUpperCase() as never, password },
  });
  const created = result.data?.createUser;
  if (created?.__typename !== 'CreateUserSuccess') throw new Error(`user not created: ${JSON.stringify(result)}`);
  return { ...created.user, password };
}

/** Signs in through the login mutation and returns the tokens, or the GraphQL errors. */
export async function login(server: TestServer, login: string, password: string, totp?: string) {
  const result = await server.request(LoginDocument, { input: { login, password, ...(totp ? { totp } : {}) } });
  const payload = result.data?.login;
  return {
    tokens: payload?.__typename === 'LoginSuccess' ? payload.tokens : undefined,
    errors: result.errors,
    code: result.errors?.[0]?.extensions?.code as string | undefined,
  };
}
