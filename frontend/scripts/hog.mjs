// Checks and runs Hog with PostHog's own packages: `@posthog/hogql-parser` parses, `@posthog/hogvm` executes.
// PostHog's Hog compiler is Python inside the PostHog monorepo and is not published, so `compile` below lowers the
// parser's AST to HogVM bytecode for the subset LipService's template uses (locals, if/while, calls, fields,
// dicts, arrays, arithmetic, comparisons). Anything outside that subset is refused, never guessed.
//
// It runs programs as PostHog's logs ingestion does: `match` is `new RE2(regex).test(value)` with the `re2` package,
// compiled on every call, and each record has PostHog's 10 ms budget; a record that does not finish is an error.
//
// Usage: node scripts/hog.mjs parse|functions|run|batch|rules|time < request.json
//   parse: {"code"} → {"ok": true} | {"ok": false, "error": {...}}
//   run:   {"code", "inputs", "globals": [...], "timeout_ms"?} → {"ok": true, "results", "ops", "regexes"} (one each
//          per globals entry: the result, the VM operations and the regexes compiled)
//   batch: as run, plus "batch_size"?, "message_timeout_ms"? → {"ok": true, "results": [...], "batches": [...]};
//          fails when a batch of records stays over PostHog's 100 ms per-message budget
//   rules: {"regexes", "bodies", "compile_once"?} → per-record time of native path_drop message regexes under RE2
//   time:  as run, plus "rounds" → {"ok": true, "median_ms", "p99_ms", "cpu_median_ms", "ops_median", ..., "unfinished"}
import createHogQLParser from '@posthog/hogql-parser'
import hogvm from '@posthog/hogvm'
import { createHash } from 'node:crypto'
import RE2 from 're2'

// PostHog's budget for one record of a `transformation_log` function, and for one Kafka message of records.
export const POSTHOG_RECORD_TIMEOUT_MS = 10
export const POSTHOG_MESSAGE_TIMEOUT_MS = 100
export const BATCH_SIZE = 100

const { exec, convertHogToJS } = hogvm

const OP = {
    GET_GLOBAL: 1, CALL_GLOBAL: 2, AND: 3, OR: 4, NOT: 5, PLUS: 6, MINUS: 7, MULTIPLY: 8, DIVIDE: 9, MOD: 10,
    EQ: 11, NOT_EQ: 12, GT: 13, GT_EQ: 14, LT: 15, LT_EQ: 16, REGEX: 23, NOT_REGEX: 24,
    TRUE: 29, FALSE: 30, NULL: 31, STRING: 32, INTEGER: 33, FLOAT: 34, POP: 35, GET_LOCAL: 36, SET_LOCAL: 37,
    RETURN: 38, JUMP: 39, JUMP_IF_FALSE: 40, DICT: 42, ARRAY: 43, GET_PROPERTY: 45, SET_PROPERTY: 46,
}
const COMPARE = { '==': OP.EQ, '!=': OP.NOT_EQ, '>': OP.GT, '>=': OP.GT_EQ, '<': OP.LT, '<=': OP.LT_EQ, '=~': OP.REGEX, '!~': OP.NOT_REGEX }
const ARITHMETIC = { '+': OP.PLUS, '-': OP.MINUS, '*': OP.MULTIPLY, '/': OP.DIVIDE, '%': OP.MOD }

export class Unsupported extends Error {}

export function compile(program) {
    const scopes = [[]]
    const lookup = (name) => {
        let index = scopes.flat().length
        for (let s = scopes.length - 1; s >= 0; s--) {
            index -= scopes[s].length
            const found = scopes[s].lastIndexOf(name)
            if (found >= 0) return index + found
        }
        return -1
    }
    const expr = (node) => {
        switch (node.node) {
            case 'Constant': {
                const v = node.value
                if (v === null) return [OP.NULL]
                if (v === true) return [OP.TRUE]
                if (v === false) return [OP.FALSE]
                if (typeof v === 'string') return [OP.STRING, v]
                if (typeof v === 'number') return Number.isInteger(v) && !String(node.value).includes('.') ? [OP.INTEGER, v] : [OP.FLOAT, v]
                throw new Unsupported(`constant ${JSON.stringify(v)}`)
            }
            case 'Field': {
                const [head, ...rest] = node.chain
                const local = lookup(head)
                if (local >= 0) return [OP.GET_LOCAL, local, ...rest.flatMap((k) => [OP.STRING, k, OP.GET_PROPERTY])]
                return [...[...node.chain].reverse().flatMap((k) => [OP.STRING, k]), OP.GET_GLOBAL, node.chain.length]
            }
            case 'ArrayAccess':
                return [...expr(node.array), ...expr(node.property), OP.GET_PROPERTY]
            case 'Dict':
                return [...node.items.flatMap(([k, v]) => [...expr(k), ...expr(v)]), OP.DICT, node.items.length]
            case 'Array':
                return [...node.exprs.flatMap(expr), OP.ARRAY, node.exprs.length]
            case 'And':
                return [...node.exprs.flatMap(expr), OP.AND, node.exprs.length]
            case 'Or':
                return [...node.exprs.flatMap(expr), OP.OR, node.exprs.length]
            case 'Not':
                return [...expr(node.expr), OP.NOT]
            case 'CompareOperation':
                if (!(node.op in COMPARE)) throw new Unsupported(`comparison ${node.op}`)
                return [...expr(node.right), ...expr(node.left), COMPARE[node.op]]
            case 'ArithmeticOperation':
                return [...expr(node.right), ...expr(node.left), ARITHMETIC[node.op]]
            case 'Call': {
                if (node.params) throw new Unsupported(`parametric call ${node.name}`)
                if (node.name === 'not' && node.args.length === 1) return [...expr(node.args[0]), OP.NOT]
                if (node.name === 'and') return [...node.args.flatMap(expr), OP.AND, node.args.length]
                if (node.name === 'or') return [...node.args.flatMap(expr), OP.OR, node.args.length]
                return [...node.args.flatMap(expr), OP.CALL_GLOBAL, node.name, node.args.length]
            }
            default:
                throw new Unsupported(`expression ${node.node}`)
        }
    }
    const block = (declarations) => {
        scopes.push([])
        const out = declarations.flatMap(statement)
        const declared = scopes.pop()
        return [...out, ...declared.map(() => OP.POP)]
    }
    const statement = (node) => {
        switch (node.node) {
            case 'VariableDeclaration': {
                const value = node.expr ? expr(node.expr) : [OP.NULL]
                scopes[scopes.length - 1].push(node.name)
                return value
            }
            case 'VariableAssignment': {
                const left = node.left
                if (left.node === 'Field') {
                    const [head, ...rest] = left.chain
                    const local = lookup(head)
                    if (local < 0) throw new Unsupported(`assignment to global ${head}`)
                    if (rest.length === 0) return [...expr(node.right), OP.SET_LOCAL, local]
                    const path = rest.slice(0, -1).flatMap((k) => [OP.STRING, k, OP.GET_PROPERTY])
                    return [OP.GET_LOCAL, local, ...path, OP.STRING, rest[rest.length - 1], ...expr(node.right), OP.SET_PROPERTY]
                }
                if (left.node === 'ArrayAccess') {
                    return [...expr(left.array), ...expr(left.property), ...expr(node.right), OP.SET_PROPERTY]
                }
                throw new Unsupported(`assignment to ${left.node}`)
            }
            case 'ExprStatement':
                return [...expr(node.expr), OP.POP]
            case 'ReturnStatement':
                return [...(node.expr ? expr(node.expr) : [OP.NULL]), OP.RETURN]
            case 'Block':
                return block(node.declarations)
            case 'IfStatement': {
                const then = statement(node.then)
                const otherwise = node.else_ ? statement(node.else_) : []
                if (otherwise.length === 0) return [...expr(node.expr), OP.JUMP_IF_FALSE, then.length, ...then]
                return [...expr(node.expr), OP.JUMP_IF_FALSE, then.length + 2, ...then, OP.JUMP, otherwise.length, ...otherwise]
            }
            case 'WhileStatement': {
                const condition = expr(node.expr)
                const body = statement(node.body)
                return [...condition, OP.JUMP_IF_FALSE, body.length + 2, ...body, OP.JUMP, -(body.length + condition.length + 4)]
            }
            default:
                throw new Unsupported(`statement ${node.node}`)
        }
    }
    if (program.node !== 'Program') throw new Unsupported(`root ${program.node}`)
    return ['_H', 1, ...block(program.declarations), OP.NULL, OP.RETURN]
}

export async function parse(code) {
    const parser = await createHogQLParser()
    return JSON.parse(parser.parseProgram(code, true))
}

// Regexes compiled so far (one per `match`): with the VM's operations, the work of a record that load does not move.
let regexesCompiled = 0

const EXTERNAL = {
    regex: {
        match: (regex, value) => {
            regexesCompiled += 1
            return new RE2(regex).test(value)
        },
    },
    crypto: { createHash },
}

export class Unfinished extends Error {}

// The program's result, the VM operations it took (a library call counts as one) and the regexes it compiled.
export function execute(bytecode, globals, timeout = POSTHOG_RECORD_TIMEOUT_MS) {
    const compiledBefore = regexesCompiled
    // exec reports its own errors, a timeout among them, as an unfinished result.
    const result = exec(bytecode, { globals, timeout, external: EXTERNAL })
    if (!result.finished) {
        const message = String(result.error?.message ?? `waits on ${result.asyncFunctionName}`)
        if (message.includes('timed out')) throw new Unfinished(message)
        throw new Error(`Hog program did not finish: ${message}`)
    }
    return { value: convertHogToJS(result.result), ops: result.state.ops, regexes: regexesCompiled - compiledBefore }
}

export function run(bytecode, globals, timeout = POSTHOG_RECORD_TIMEOUT_MS) {
    return execute(bytecode, globals, timeout).value
}

// A record over budget five times in a row is over budget; once may be this machine descheduling the process (the
// VM's clock is wall time), which PostHog's dedicated workers do not see. A record whose own work exceeds the budget
// exceeds it every time.
export function executeWithinBudget(bytecode, globals, timeout = POSTHOG_RECORD_TIMEOUT_MS, tries = 5) {
    for (let attempt = 1; ; attempt++) {
        try {
            return execute(bytecode, globals, timeout)
        } catch (error) {
            if (!(error instanceof Unfinished) || attempt >= tries) throw error
        }
    }
}

export function runWithinBudget(bytecode, globals, timeout = POSTHOG_RECORD_TIMEOUT_MS, tries = 5) {
    return executeWithinBudget(bytecode, globals, timeout, tries).value
}

// A batch of records (one Kafka message) held to PostHog's per-message budget by the same rule as a record: every
// record within its own budget, and the batch's wall time within the message's; a batch over it five times in a row
// is over budget. Returns the results and the wall time of the run that finished within the budget.
export function runBatchWithinBudget(
    bytecode,
    inputs,
    globalsList,
    timeout = POSTHOG_RECORD_TIMEOUT_MS,
    messageTimeout = POSTHOG_MESSAGE_TIMEOUT_MS,
    tries = 5,
) {
    const elapsed = []
    for (let attempt = 1; ; attempt++) {
        const start = process.hrtime.bigint()
        const results = globalsList.map((g) => runWithinBudget(bytecode, { ...g, inputs }, timeout))
        const ms = Number(process.hrtime.bigint() - start) / 1e6
        elapsed.push(ms)
        if (ms <= messageTimeout) return { results, ms, attempts: attempt }
        if (attempt >= tries) {
            throw new Unfinished(`batch of ${globalsList.length} over ${messageTimeout} ms ${tries} times: ${elapsed.map((e) => e.toFixed(1)).join(', ')} ms`)
        }
    }
}

function quantile(sorted, q) {
    return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : null
}

// Untimed passes first: PostHog's workers are long-lived, so the VM and RE2 are compiled by the JIT when it counts.
function warm(bytecode, inputs, globalsList) {
    const started = Date.now()
    do {
        globalsList.forEach((g) => run(bytecode, { ...g, inputs }, 1000))
    } while (Date.now() - started < 300)
}

// Per-record times under PostHog's budget.
export function time(bytecode, inputs, globalsList, rounds = 1, timeout = POSTHOG_RECORD_TIMEOUT_MS) {
    warm(bytecode, inputs, globalsList)
    const perRecord = []
    const perRecordCpu = []
    const perRecordOps = []
    const perRecordRegexes = []
    const batches = []
    let unfinished = 0
    let overBudgetOnce = 0
    for (let round = 0; round < rounds; round++) {
        let batchStart = process.hrtime.bigint()
        globalsList.forEach((g, i) => {
            const start = process.hrtime.bigint()
            const cpuStart = process.cpuUsage()
            try {
                const { ops, regexes } = execute(bytecode, { ...g, inputs }, timeout)
                perRecordOps.push(ops)
                perRecordRegexes.push(regexes)
            } catch (error) {
                if (!(error instanceof Unfinished)) throw error
                overBudgetOnce += 1
                try {
                    runWithinBudget(bytecode, { ...g, inputs }, timeout, 4)
                } catch (again) {
                    if (!(again instanceof Unfinished)) throw again
                    unfinished += 1
                }
            }
            perRecord.push(Number(process.hrtime.bigint() - start) / 1e6)
            const cpu = process.cpuUsage(cpuStart)
            perRecordCpu.push((cpu.user + cpu.system) / 1e3)
            if ((i + 1) % BATCH_SIZE === 0) {
                batches.push(Number(process.hrtime.bigint() - batchStart) / 1e6)
                batchStart = process.hrtime.bigint()
            }
        })
    }
    const sorted = [...perRecord].sort((a, b) => a - b)
    const sortedCpu = [...perRecordCpu].sort((a, b) => a - b)
    const sortedOps = [...perRecordOps].sort((a, b) => a - b)
    return {
        records: perRecord.length,
        unfinished,
        over_budget_once: overBudgetOnce,
        median_ms: quantile(sorted, 0.5),
        p99_ms: quantile(sorted, 0.99),
        max_ms: sorted[sorted.length - 1] ?? null,
        // CPU time of this process per record: what the record costs, without the waits of a crowded machine.
        cpu_median_ms: quantile(sortedCpu, 0.5),
        cpu_p99_ms: quantile(sortedCpu, 0.99),
        // VM operations of the records that finished within budget at the first run (nearly all of them).
        ops_median: quantile(sortedOps, 0.5),
        ops_p99: quantile(sortedOps, 0.99),
        regexes_mean: perRecordRegexes.reduce((a, b) => a + b, 0) / Math.max(perRecordRegexes.length, 1),
        regexes_max: Math.max(0, ...perRecordRegexes),
        max_batch_ms: batches.length ? Math.max(...batches) : null,
        batches: batches.length,
    }
}

// PostHog's native `path_drop` rules for comparison: per record, each rule's message regex tested with RE2 in
// priority order until one matches (a match drops the record). `compileOnce`: the rule set's regexes compiled once,
// as a long-lived ingestion worker would cache them; otherwise compiled per test, as Hog's `match` is.
export function timeRules(regexes, bodies, rounds = 1, compileOnce = true) {
    const compiled = compileOnce ? regexes.map((r) => new RE2(r)) : null
    const test = (i, body) => (compiled ? compiled[i].test(body) : new RE2(regexes[i]).test(body))
    const evaluate = (body) => {
        for (let i = 0; i < regexes.length; i++) if (test(i, body)) return true
        return false
    }
    const started = Date.now()
    do bodies.forEach(evaluate)
    while (Date.now() - started < 300)
    const perRecord = []
    const perRecordCpu = []
    const passedCpu = []
    let dropped = 0
    for (let round = 0; round < rounds; round++) {
        for (const body of bodies) {
            const start = process.hrtime.bigint()
            const cpuStart = process.cpuUsage()
            const drop = evaluate(body)
            perRecord.push(Number(process.hrtime.bigint() - start) / 1e6)
            const cpu = process.cpuUsage(cpuStart)
            perRecordCpu.push((cpu.user + cpu.system) / 1e3)
            if (drop) dropped += 1
            else passedCpu.push((cpu.user + cpu.system) / 1e3)
        }
    }
    const sorted = [...perRecord].sort((a, b) => a - b)
    const sortedCpu = [...perRecordCpu].sort((a, b) => a - b)
    return {
        records: perRecord.length,
        dropped,
        median_ms: quantile(sorted, 0.5),
        p99_ms: quantile(sorted, 0.99),
        cpu_median_ms: quantile(sortedCpu, 0.5),
        cpu_p99_ms: quantile(sortedCpu, 0.99),
        // Records no rule drops test every rule: the cost every line the policy keeps pays.
        passed_cpu_median_ms: quantile(passedCpu.sort((a, b) => a - b), 0.5),
    }
}

async function main() {
    const command = process.argv[2]
    const chunks = []
    for await (const chunk of process.stdin) chunks.push(chunk)
    const request = JSON.parse(Buffer.concat(chunks).toString('utf8'))
    if (command === 'rules') {
        const timing = timeRules(request.regexes, request.bodies, request.rounds ?? 1, request.compile_once ?? true)
        process.stdout.write(JSON.stringify({ ok: true, ...timing }))
        return
    }
    const ast = await parse(request.code)
    if (ast.error) {
        process.stdout.write(JSON.stringify({ ok: false, error: ast }))
        return
    }
    if (command === 'parse') {
        process.stdout.write(JSON.stringify({ ok: true }))
        return
    }
    if (command === 'functions') {
        // Every function the program calls must be one PostHog's VM provides (its STL or ASYNC_STL).
        const called = new Set()
        const visit = (node) => {
            if (Array.isArray(node)) return node.forEach(visit)
            if (!node || typeof node !== 'object') return
            if (node.node === 'Call' && typeof node.name === 'string') called.add(node.name)
            Object.values(node).forEach(visit)
        }
        visit(ast)
        const known = new Set([...Object.keys(hogvm.STL), ...Object.keys(hogvm.ASYNC_STL), 'not', 'and', 'or'])
        const calls = [...called].sort()
        process.stdout.write(JSON.stringify({ ok: true, calls, missing: calls.filter((name) => !known.has(name)) }))
        return
    }
    const bytecode = compile(ast)
    const timeout = request.timeout_ms ?? POSTHOG_RECORD_TIMEOUT_MS
    if (command === 'time') {
        const timing = time(bytecode, request.inputs, request.globals, request.rounds ?? 1, timeout)
        process.stdout.write(JSON.stringify({ ok: true, ...timing }))
        return
    }
    if (command === 'batch') {
        // Records in batches of BATCH_SIZE, each batch held to PostHog's per-message budget (runBatchWithinBudget).
        warm(bytecode, request.inputs, request.globals)
        const size = request.batch_size ?? BATCH_SIZE
        const messageTimeout = request.message_timeout_ms ?? POSTHOG_MESSAGE_TIMEOUT_MS
        const results = []
        const batches = []
        for (let i = 0; i < request.globals.length; i += size) {
            const chunk = request.globals.slice(i, i + size)
            const batch = runBatchWithinBudget(bytecode, request.inputs, chunk, timeout, messageTimeout)
            results.push(...batch.results)
            batches.push({ records: chunk.length, ms: batch.ms, attempts: batch.attempts })
        }
        process.stdout.write(JSON.stringify({ ok: true, results, batches }))
        return
    }
    if (command !== 'run') throw new Error(`unknown command ${command}`)
    warm(bytecode, request.inputs, request.globals)
    const runs = request.globals.map((g) => executeWithinBudget(bytecode, { ...g, inputs: request.inputs }, timeout))
    const results = runs.map((r) => r.value)
    process.stdout.write(JSON.stringify({ ok: true, results, ops: runs.map((r) => r.ops), regexes: runs.map((r) => r.regexes) }))
}

if (import.meta.url === `file://${process.argv[1]}`) {
    main().catch((error) => {
        process.stderr.write(String(error?.stack ?? error))
        process.exit(2)
    })
}
