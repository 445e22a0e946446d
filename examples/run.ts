// Shared by the examples: listen on PORT (default 3000; 0 picks a free port), print the address,
// and close cleanly on SIGINT/SIGTERM (fastify.close() runs the plugin's onClose hooks).
import type { FastifyInstance } from 'fastify'

export async function run (app: FastifyInstance, hint: string): Promise<void> {
  const address = await app.listen({ port: Number(process.env.PORT ?? 3000), host: '127.0.0.1' })
  console.log(`listening on ${address}`)
  console.log(hint.replaceAll('$URL', address))
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      app.close().then(() => process.exit(0), err => {
        console.error(err)
        process.exit(1)
      })
    })
  }
}
