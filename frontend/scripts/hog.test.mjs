// The AST-to-bytecode lowering in hog.mjs, checked on programs whose results are known, run on PostHog's VM.
import { compile, parse, run, Unsupported } from './hog.mjs'

async function evaluate(code, globals = {}) {
    const ast = await parse(code)
    if (ast.error) throw new Error(ast.message)
    return run(compile(ast), globals)
}

describe('hog.mjs compile + @posthog/hogvm', () => {
    it('runs loops, locals and arithmetic', async () => {
        const code = 'let total := 1\nlet i := 1\nwhile (i <= 5) { total := total * i\n i := i + 1 }\nreturn total'
        expect(await evaluate(code)).toBe(120)
    })

    it('scopes block locals and evaluates else-if chains', async () => {
        const code = `let out := []
let i := 1
while (i <= 4) {
    let label := 'other'
    if (i == 1) { label := 'one' } else if (i == 2 or i == 3) { label := 'few' }
    out := arrayPushBack(out, label)
    i := i + 1
}
return out`
        expect(await evaluate(code)).toEqual(['one', 'few', 'few', 'other'])
    })

    it('reads globals and nested inputs, mutates dicts, returns null', async () => {
        const code = `let rec := record
let attrs := rec.attributes
attrs['seen'] := inputs.table[rec.key] * 2
rec.attributes := attrs
if (not (rec.key == 'a')) { return null }
return rec`
        const globals = { record: { key: 'a', attributes: { x: 1 } }, inputs: { table: { a: 21 } } }
        expect(await evaluate(code, globals)).toEqual({ key: 'a', attributes: { x: 1, seen: 42 } })
        expect(await evaluate(code, { ...globals, record: { key: 'b', attributes: {} } })).toBeNull()
    })

    it('matches regexes and hashes with the standard library', async () => {
        expect(await evaluate("return match('GET /x 200', '^GET [^ ]+ [0-9]+$')")).toBe(true)
        expect(await evaluate("return substring(sha256Hex('abc'), 1, 8)")).toBe('ba7816bf')
    })

    it('refuses constructs it does not lower instead of guessing', async () => {
        const ast = await parse('fun f(x) { return x }\nreturn f(1)')
        expect(() => compile(ast)).toThrow(Unsupported)
    })
})
