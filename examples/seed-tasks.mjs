// The tasks of the seed's task service (chapkit's example): a greeting with a default, an
// addition of two integers, and a task that raises. Used by the HTTP API's tests and its
// contract test (scripts/schemathesis.sh).
export function registerSeedTasks(ex) {
  ex.register('greet_user', ({ name }) => ({ message: `Hello, ${name ?? 'World'}!` }), {
    tags: ['demo', 'simple'],
    description: 'Simple task that returns a greeting.',
    params: { type: 'object', properties: { name: { type: 'string', default: 'World' } }, additionalProperties: false },
  })
  ex.register('add', ({ a, b }) => ({ result: a + b }), { tags: ['math'], params: { a: 'integer', b: 'integer' } })
  ex.register('failing_task', () => {
    throw new RangeError('Something went wrong')
  }, { tags: ['demo'] })
}
