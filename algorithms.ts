// `fastify-adaptive-concurrency/algorithms`: the pure limit algorithms (no Fastify), the factory
// that maps a name and options onto one, and the interface a custom algorithm implements.
export * from './lib/algorithms'
