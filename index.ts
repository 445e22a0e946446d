export * from './lib/algorithms'
export { errors } from './lib/errors'
