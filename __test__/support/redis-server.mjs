// A private redis-server for tests and benchmarks: started on a free loopback port
// (never the standard 6379), its data in a temporary directory, stopped by its own pid.
import { spawn } from 'node:child_process'
import fs from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'

const binary = process.env.TASKLOOM_REDIS_SERVER ?? 'redis-server'

function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer()
    s.once('error', reject)
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address()
      s.close(() => resolve(port))
    })
  })
}

function answers(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.write('PING\r\n')
    })
    socket.once('data', (d) => {
      socket.destroy()
      resolve(d.toString().startsWith('+PONG'))
    })
    socket.once('error', () => resolve(false))
  })
}

function launch(port, dir, aof, tls, extra = []) {
  const args = ['--bind', '127.0.0.1', '--save', '', '--dir', dir, ...extra]
  if (tls) {
    args.push('--port', '0', '--tls-port', String(port), '--tls-auth-clients', 'no')
    args.push('--tls-cert-file', tls.cert, '--tls-key-file', tls.key, '--tls-ca-cert-file', tls.cert)
  } else {
    args.push('--port', String(port))
  }
  args.push(...(aof ? ['--appendonly', 'yes', '--appendfsync', 'always'] : ['--appendonly', 'no']))
  const child = spawn(binary, args, { stdio: 'ignore' })
  child.on('error', () => {})
  return child
}

/** A TLS port: accepting connections is enough (a plain PING gets no answer there). */
function accepts(port) {
  return new Promise((resolve) => {
    const socket = net.connect(port, '127.0.0.1')
    socket.once('connect', () => {
      socket.destroy()
      resolve(true)
    })
    socket.once('error', () => resolve(false))
  })
}

async function waitReady(port, child, tls, ms = 5000) {
  const deadline = Date.now() + ms
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) return false
    if (await (tls ? accepts(port) : answers(port))) return true
    await new Promise((r) => setTimeout(r, 20))
  }
  return false
}

/**
 * Starts a redis-server. With `aof`, every write is fsynced to an append-only file, so a
 * restart loses nothing. With `tls: { cert, key }` (PEM files) it serves TLS only, and
 * `url` is `rediss://…/#insecure` (the certificate is self-signed).
 * `args` are passed on to redis-server (e.g. `--cluster-enabled yes`).
 * Returns `{ url, port, pid, kill(), start(), stop() }`.
 */
export async function startRedis({ aof = false, tls = null, args = [] } = {}) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-redis-'))
  for (let i = 0; i < 10; i++) {
    const port = await freePort()
    let child = launch(port, dir, aof, tls, args)
    if (!(await waitReady(port, child, tls))) {
      child.kill('SIGKILL')
      continue
    }
    const server = {
      url: tls ? `rediss://127.0.0.1:${port}/#insecure` : `redis://127.0.0.1:${port}`,
      port,
      get pid() {
        return child.pid
      },
      /** Kills the server (SIGKILL to its pid) and waits until it is gone. */
      async kill() {
        if (child.exitCode !== null || child.signalCode !== null) return
        const gone = new Promise((r) => child.once('exit', r))
        child.kill('SIGKILL')
        await gone
      },
      /** Starts it again on the same port and directory. */
      async start() {
        const deadline = Date.now() + 10_000
        for (;;) {
          child = launch(port, dir, aof, tls, args)
          if (await waitReady(port, child, tls)) return
          child.kill('SIGKILL')
          if (Date.now() > deadline) throw new Error('redis-server did not come back')
          await new Promise((r) => setTimeout(r, 100))
        }
      },
      async stop() {
        await server.kill()
        fs.rmSync(dir, { recursive: true, force: true })
      },
    }
    return server
  }
  throw new Error(`could not start ${binary} (is redis-server installed? set TASKLOOM_REDIS_SERVER)`)
}
