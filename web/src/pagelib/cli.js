// nats CLI lines for empty states (unit-tested in tests/pagelib.test.js).

/** Quotes an argument for a POSIX shell when it needs it. */
export function shq(s) {
  s = String(s)
  return /^[\w@%+=:,./-]+$/.test(s) ? s : `'${s.replace(/'/g, `'\\''`)}'`
}

/**
 * `nats --server URL --creds FILE args…`; FILE is a .creds file issued on
 * the Credentials page (the server's advertised NATS URL when known).
 */
export function natsCli(natsUrl, args, credsFile = 'app.creds') {
  const server = natsUrl ? ['--server', natsUrl] : []
  return ['nats', ...server, '--creds', credsFile, ...args].map((a, i) => (i === 0 ? a : shq(a))).join(' ')
}
