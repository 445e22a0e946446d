// Code from the README, for tests that run the documented example itself rather than a copy of
// it: if the README changes what it recommends, the test follows (or fails).
import { readFileSync } from 'node:fs'
import { join } from 'node:path'

const README = join(__dirname, '..', 'README.md')

/** The first ```js block of README section `section` that contains `containing`. */
export function readmeCodeBlock (section: string, containing: string): string {
  const text = readFileSync(README, 'utf8')
  const start = text.indexOf(`<!-- section:${section} -->`)
  const end = text.indexOf(`<!-- /section:${section} -->`)
  if (start < 0 || end < start) throw new Error(`README has no section ${section}`)
  for (const m of text.slice(start, end).matchAll(/```js\n([\s\S]*?)```/g)) {
    if (m[1].includes(containing)) return m[1]
  }
  throw new Error(`README section ${section} has no js block containing ${JSON.stringify(containing)}`)
}

/** Evaluate a JavaScript expression from the README, with `scope` as its free variables. */
export function evaluate<T> (expression: string, scope: Record<string, unknown> = {}): T {
  // eslint-disable-next-line no-new-func -- the README's own example, read from the repository
  return new Function(...Object.keys(scope), `return (${expression})`)(...Object.values(scope)) as T
}
