// Compiled (not run) by `npm run types`: the README's usage type-checks
// against the declarations.
import { Pocketbus, ClientResponseError, type ProjectConnection, type ConnectionEvent } from '@pocketbus/client'
import { connectionSnippets } from '@pocketbus/client/snippets'

export async function example(email: string, password: string, projectId: string, creds: string): Promise<void> {
  const pbus = new Pocketbus('http://127.0.0.1:8090')
  await pbus.pb.collection('users').authWithPassword(email, password)
  const nc = await pbus.connect(projectId, { onStatus: (c: ProjectConnection, e: ConnectionEvent) => console.log(c.status, e.type, e.error?.message) })
  nc.publish('hello', 'hi')
  const kv = await pbus.kv(projectId, 'config', { history: 5 })
  await kv.put('color', 'blue')
  const c = pbus.connection(projectId)
  const expires: number | null | undefined = c?.expires
  await c?.renew()
  const other = new Pocketbus('http://127.0.0.1:8090')
  const tcp = await other.connect(projectId, { creds, servers: ['nats://127.0.0.1:4222'] })
  await tcp.flush()
  try {
    const issued = await pbus.issue(projectId, { name: 'worker', sub_allow: ['jobs.> workers'], allow_responses: true, jetstream: false, expires: new Date() })
    const r: string = issued.creds
    await pbus.revoke(issued.id)
    const { revoked_before } = await pbus.rotate(projectId)
    const s = await pbus.stats(projectId)
    const n: number = s.jetstream.streams
    const inv = await pbus.invites.create('g', { max_uses: 2 })
    await pbus.invites.view(inv.token)
    await pbus.invites.accept(inv.token)
    await pbus.invites.delete(inv.id)
    const ex = await pbus.exports.create(projectId, { subject: 'shared.>', type: 'stream', to: 'p2' })
    await pbus.exports.delete(ex.id)
    await pbus.groups.removeMember('g', 'u', { keepCredentials: true })
    const info = await pbus.info()
    const snippets = connectionSnippets({ natsUrl: info.nats.url, credsFile: 'a.creds', appUrl: pbus.url, projectId })
    console.log(r, revoked_before, n, snippets[0].code, expires)
  } catch (e) {
    if (e instanceof ClientResponseError) console.log(e.status, e.response.message, e.response.data)
  }
  await pbus.close()
  await other.close()
}
