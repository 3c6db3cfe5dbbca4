// The Redis-backed contenders behind one interface, for bench/redis-peers.mjs and its
// worker processes: taskloom, BullMQ and bee-queue, each with its usual settings for a
// durable queue (finished jobs are kept; nothing is removed on completion).
//   addMany(xs)          submit in bulk
//   addDelayed(due, ms)  submit one task delayed by ms (its payload: the due time)
//   run(x)               submit one task and await its result
//   succeeded()          how many tasks have succeeded so far
//   addChords(k, width)  submit k chords: `width` tasks, then a callback summing their results
//   chordsDone()         how many chords' callbacks have succeeded so far
//   close()
// Options: worker (run tasks here), concurrency, retry (tasks fail their first attempt
// and succeed on the retry), onStart(payload) (called as each task starts). bee-queue has
// no workflows: no chords.

const QUEUE = 'bench'
/** BullMQ: the callbacks' queue (a flow's parent jobs). taskloom: the callbacks' queue. */
const PARENTS = 'bench-parents'
const sum = (xs) => xs.reduce((a, b) => a + b, 0)

function hostPort(url) {
  const u = new URL(url)
  return { host: u.hostname, port: Number(u.port) }
}

export async function contender(impl, url, { worker = false, concurrency = 50, retry = false, onStart } = {}) {
  const handler = (payload, firstAttempt) => {
    onStart?.(payload)
    if (retry && firstAttempt) throw new Error('fails once')
    return payload
  }
  if (impl === 'taskloom') {
    const { Executor } = await import('../index.mjs')
    // Keep every finished task, as the peers do by default (and so counts reach n).
    const ex = new Executor({ store: url, namespace: QUEUE, worker, concurrency, keepResults: { count: 100_000_000 } })
    ex.register('bench', async (x, ctx) => handler(x, ctx.attempt === 1), { retry: { maxRetries: 1, delayMs: 0 } })
    ex.register('sum', async ([xs]) => sum(xs), { queue: PARENTS })
    const { chord, sig } = await import('../index.mjs')
    return {
      addChords: async (k, width) => {
        const chords = Array.from({ length: k }, (_, c) => chord(Array.from({ length: width }, (_, i) => sig('bench', c * width + i)), sig('sum')))
        await Promise.all(chords.map((w) => ex.submit(w)))
      },
      chordsDone: async () => (await ex.counts()).queues[PARENTS]?.SUCCESS ?? 0,
      addMany: (xs) => ex.submitMany('bench', xs),
      addDelayed: (due, ms) => ex.submit('bench', due, { delayMs: ms }),
      run: async (x) => (await ex.submit('bench', x)).result(),
      succeeded: async () => (await ex.counts()).total.SUCCESS,
      close: () => ex.close(),
    }
  }
  if (impl === 'bullmq') {
    const { Queue, Worker, QueueEvents, FlowProducer } = await import('bullmq')
    const connection = { ...hostPort(url), maxRetriesPerRequest: null }
    const queue = new Queue(QUEUE, { connection })
    const parents = new Queue(PARENTS, { connection })
    const opts = { attempts: retry ? 2 : 1 }
    let w = null
    let pw = null
    let events = null
    let flow = null
    if (worker) {
      w = new Worker(QUEUE, async (job) => handler(job.data, job.attemptsMade === 0), { connection, concurrency })
      await w.waitUntilReady()
      // A flow's parent job runs once its children are done, and reads their values.
      pw = new Worker(PARENTS, async (job) => sum(Object.values(await job.getChildrenValues())), { connection, concurrency })
      await pw.waitUntilReady()
      events = new QueueEvents(QUEUE, { connection })
      await events.waitUntilReady()
    }
    return {
      addChords: async (k, width) => {
        flow ??= new FlowProducer({ connection })
        for (let c = 0; c < k; c += 100) {
          const batch = Array.from({ length: Math.min(100, k - c) }, (_, j) => ({
            name: 'sum',
            queueName: PARENTS,
            children: Array.from({ length: width }, (_, i) => ({ name: 'bench', queueName: QUEUE, data: (c + j) * width + i })),
          }))
          await flow.addBulk(batch)
        }
      },
      chordsDone: () => parents.getCompletedCount(),
      addMany: async (xs) => {
        for (let i = 0; i < xs.length; i += 1000) {
          await queue.addBulk(xs.slice(i, i + 1000).map((x) => ({ name: 'bench', data: x, opts })))
        }
      },
      addDelayed: (due, ms) => queue.add('bench', due, { delay: ms }),
      run: async (x) => (await queue.add('bench', x)).waitUntilFinished(events),
      succeeded: () => queue.getCompletedCount(),
      close: async () => {
        await w?.close()
        await pw?.close()
        await events?.close()
        await flow?.close()
        await parents.close()
        await queue.close()
      },
    }
  }
  if (impl === 'bee-queue') {
    const { default: BeeQueue } = await import('bee-queue')
    const queue = new BeeQueue(QUEUE, {
      redis: hostPort(url),
      isWorker: worker,
      getEvents: worker,
      activateDelayedJobs: worker,
      removeOnSuccess: false,
      sendEvents: true,
    })
    await queue.ready()
    if (worker) queue.process(concurrency, async (job) => handler(job.data, job.options.retries > 0))
    const make = (x) => {
      const job = queue.createJob(x)
      if (retry) job.retries(1)
      return job
    }
    return {
      addMany: async (xs) => {
        for (let i = 0; i < xs.length; i += 1000) await queue.saveAll(xs.slice(i, i + 1000).map(make))
      },
      addDelayed: (due, ms) => make(due).delayUntil(Date.now() + ms).save(),
      run: (x) =>
        new Promise((resolve, reject) => {
          const job = make(x)
          job.on('succeeded', resolve)
          job.on('failed', reject)
          job.save().catch(reject)
        }),
      succeeded: async () => (await queue.checkHealth()).succeeded,
      close: () => queue.close(),
    }
  }
  throw new Error(`unknown contender ${impl}`)
}
