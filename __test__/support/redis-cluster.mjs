// A real 3-node Redis Cluster for tests: three redis-server processes on free loopback
// ports, joined with `redis-cli --cluster create`, stopped by their own pids.
import { execFileSync } from 'node:child_process'
import { startRedis } from './redis-server.mjs'
import { sleep } from './processes.mjs'

const cli = (port, ...args) => execFileSync('redis-cli', ['-p', String(port), ...args.map(String)]).toString().trim()

/** Starts the cluster; returns `{ ports, url(i), slotOf(key), ownerOf(slot), moveSlot(slot, toPort), stop() }`. */
export async function startCluster() {
  const nodes = []
  for (let i = 0; i < 3; i++) nodes.push(await startRedis({ args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '2000'] }))
  const ports = nodes.map((n) => n.port)
  execFileSync('redis-cli', ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'], { stdio: 'pipe' })
  for (let i = 0; i < 200 && !ports.every((p) => cli(p, 'CLUSTER', 'INFO').includes('cluster_state:ok')); i++) await sleep(50)
  const id = (port) => cli(port, 'CLUSTER', 'MYID')
  const cluster = {
    ports,
    url: (i) => `redis+cluster://127.0.0.1:${ports[i]}`,
    slotOf: (key) => Number(cli(ports[0], 'CLUSTER', 'KEYSLOT', key)),
    /** The port of the node that serves `slot`. */
    ownerOf(slot) {
      for (const line of cli(ports[0], 'CLUSTER', 'NODES').split('\n')) {
        const [, addr, , , , , , , ...ranges] = line.split(' ')
        for (const r of ranges) {
          const [from, to = from] = r.split('-').map(Number)
          if (slot >= from && slot <= to) return Number(addr.split(':')[1].split('@')[0])
        }
      }
      return null
    },
    /** Moves `slot` and its keys to the node on `toPort`, the way a resharding does. */
    moveSlot(slot, toPort) {
      const fromPort = cluster.ownerOf(slot)
      cli(toPort, 'CLUSTER', 'SETSLOT', slot, 'IMPORTING', id(fromPort))
      cli(fromPort, 'CLUSTER', 'SETSLOT', slot, 'MIGRATING', id(toPort))
      for (;;) {
        const keys = cli(fromPort, 'CLUSTER', 'GETKEYSINSLOT', slot, 500).split('\n').filter(Boolean)
        if (keys.length === 0) break
        cli(fromPort, 'MIGRATE', '127.0.0.1', toPort, '', 0, 5000, 'KEYS', ...keys)
      }
      for (const p of ports) cli(p, 'CLUSTER', 'SETSLOT', slot, 'NODE', id(toPort))
    },
    async stop() {
      for (const n of nodes) await n.stop()
    },
  }
  return cluster
}
