// lib/nats.svelte.js (the web app's mirror of the SDK's project connection)
// against the real SDK with a fake NATS connection.
import { describe, it, expect, vi, beforeEach } from 'vitest'

const fake = vi.hoisted(() => ({ ncs: [], dials: 0, probes: 0, invalidations: 0 }))

vi.mock('../src/lib/pb.svelte.js', async () => {
  const { Pocketbus } = await import('@pocketbus/client')
  const platform = {
    name: 'fake',
    async connect() {
      fake.dials++
      const nc = fakeNc()
      fake.ncs.push(nc)
      return nc
    },
  }
  const pbus = new Pocketbus('http://127.0.0.1:1', { platform })
  pbus.token = async () => ({ jwt: 'jwt', seed: '', expires: new Date(Date.now() + 3600_000).toISOString(), ws_url: '' })
  return { pbus, pb: pbus.pb }

  function fakeNc() {
    const queue = []
    let wake = null
    let closed = false
    let resolveClosed
    const closedP = new Promise((r) => (resolveClosed = r))
    const nc = {
      protocol: { connected: true },
      getServer: () => '127.0.0.1:1',
      isClosed: () => closed,
      // as nats.js: drops the connection and dials again
      reconnect: async () => {
        nc.push({ type: 'disconnect' })
        nc.push({ type: 'reconnect' })
      },
      flush: async () => {},
      close: async () => nc.end(undefined),
      closed: () => closedP,
      end(err) {
        if (closed) return
        closed = true
        nc.push({ type: 'close' })
        resolveClosed(err)
      },
      push(s) {
        queue.push(s)
        wake?.()
      },
      status: () => ({
        async *[Symbol.asyncIterator]() {
          for (;;) {
            while (queue.length) {
              const s = queue.shift()
              yield s
              if (s.type === 'close') return
            }
            await new Promise((r) => (wake = r))
          }
        },
      }),
    }
    return nc
  }
})
vi.mock('../src/lib/online.svelte.js', () => ({ online: { server: 'online' }, onServerChange: () => () => {}, suspectOffline: () => fake.probes++ }))
vi.mock('../src/lib/query.js', () => ({ queryClient: { invalidateQueries: () => fake.invalidations++ } }))

const { useProjectConnection, reconnect, renewNow, natsState } = await import('../src/lib/nats.svelte.js')
const { pbus } = await import('../src/lib/pb.svelte.js')
const settle = () => new Promise((r) => setTimeout(r, 30))

describe('project connection', () => {
  beforeEach(() => {
    fake.ncs.length = 0
    fake.dials = 0
    fake.probes = 0
    fake.invalidations = 0
  })

  it('Reconnect after the connection ended for good opens a new one that stays open', async () => {
    expect(await useProjectConnection('p1')).toBeTruthy()
    expect(natsState.status).toBe('connected')
    fake.ncs[0].end(new Error('User Authentication Revoked')) // ended for good (e.g. access gone)
    await settle()
    expect(natsState.status).toBe('closed')
    expect(pbus.connection('p1')).toBeUndefined()

    expect(await reconnect('p1')).toBeTruthy()
    await settle()
    expect(fake.dials).toBe(2)
    expect(pbus.connection('p1')?.status).toBe('connected')
    expect(fake.ncs[1].isClosed()).toBe(false)
    expect(natsState.status).toBe('connected')
    expect(natsState.project).toBe('p1')
  })

  it('switching to another project closes the previous connection', async () => {
    await useProjectConnection('p2')
    await useProjectConnection('p3')
    await settle()
    expect(pbus.connection('p2')).toBeUndefined()
    expect(pbus.connection('p3')?.status).toBe('connected')
    expect(natsState.project).toBe('p3')
  })

  it('a planned token renewal is not taken for an outage: no server probe, no refetch; a disconnect of its own is', async () => {
    await useProjectConnection('p4')
    const c = pbus.connection('p4')
    const renewals = natsState.renewals
    await renewNow()
    await settle()
    expect(natsState.renewals).toBe(renewals + 1)
    expect(natsState.status).toBe('connected')
    expect(fake.probes).toBe(0)
    expect(fake.invalidations).toBe(0)

    const nc = fake.ncs.at(-1)
    nc.push({ type: 'disconnect' })
    await settle()
    expect(fake.probes).toBe(1)
    nc.push({ type: 'reconnect' })
    await settle()
    expect(natsState.status).toBe('connected')
    expect(fake.invalidations).toBe(1)
    expect(c.status).toBe('connected')
  })
})
