// What a Redis server reports about its own work, for the benchmarks (ioredis client).

/** CPU seconds the server has used (its main thread and the rest), from INFO cpu. */
export async function serverCpu(client) {
  const info = await client.info('cpu')
  const field = (name) => Number(new RegExp(`^${name}:([0-9.]+)`, 'm').exec(info)[1])
  return field('used_cpu_user') + field('used_cpu_sys')
}

/** Calls per command since the last CONFIG RESETSTAT, from INFO commandstats. */
export async function commandCalls(client) {
  const calls = {}
  for (const m of (await client.info('commandstats')).matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[m[1]] = Number(m[2])
  return calls
}
