import fs from 'node:fs'
import path from 'node:path'
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import {
  convertUiWorkflow,
  isUiWorkflow,
  parseObjectInfo,
  UiWorkflowError,
  VIRTUAL_CLASSES
} from '../../src/main/core/jobs/ui-workflow'
import {
  buildNodeDefs,
  DEFAULT_MODELS,
  makeTxt2ImgPrompt,
  nodeInfo
} from '../../src/fake-comfy/nodes'

const DIR = path.join(__dirname, '../fixtures/ui')
const read = (name: string): unknown => JSON.parse(fs.readFileSync(path.join(DIR, name), 'utf8'))
const OI = parseObjectInfo(read('object_info.json'))
const FIXTURES = ['txt2img', 'primitives-reroutes-modes', 'subgraph', 'group-node']

type RawNode = { type: string; mode?: number; widgets_values?: unknown[] }
type RawGraph = {
  nodes: RawNode[]
  definitions?: { subgraphs?: Array<{ id: string; nodes: RawNode[] }> }
  extra?: { groupNodes?: Record<string, { nodes: RawNode[] }> }
}

/** Classes a graph runs, walked straight from the file: not muted/bypassed, not window-only. */
function runnableClasses(g: RawGraph): Set<string> {
  const subs = new Map((g.definitions?.subgraphs ?? []).map((s) => [s.id, s.nodes]))
  const groups = g.extra?.groupNodes ?? {}
  const out = new Set<string>()
  const walk = (nodes: RawNode[]): void => {
    for (const n of nodes) {
      if (n.mode === 2 || n.mode === 4) continue
      const inner = subs.get(n.type) ?? groups[n.type.replace(/^workflow[>/]/, '')]?.nodes
      if (Array.isArray(inner)) walk(inner)
      else if (!VIRTUAL_CLASSES.includes(n.type)) out.add(n.type)
    }
  }
  walk(g.nodes)
  return out
}

describe('convertUiWorkflow fixtures', () => {
  for (const name of FIXTURES) {
    it(`${name}: gives the expected API prompt`, () => {
      const { prompt } = convertUiWorkflow(read(`${name}.json`), OI)
      expect(prompt).toEqual(read(`${name}.api.json`))
    })
    it(`${name}: runs exactly the graph's non-virtual, non-muted classes`, () => {
      const graph = read(`${name}.json`) as RawGraph
      const { prompt } = convertUiWorkflow(graph, OI)
      expect(new Set(Object.values(prompt).map((n) => n.class_type))).toEqual(
        runnableClasses(graph)
      )
    })
  }

  it('txt2img matches the stock API prompt (seed control value skipped)', () => {
    const { prompt, warnings } = convertUiWorkflow(read('txt2img.json'), OI)
    const stock = makeTxt2ImgPrompt() as Record<string, { inputs: unknown }>
    for (const id of Object.keys(stock)) expect(prompt[id]?.inputs).toEqual(stock[id]?.inputs)
    expect(warnings).toEqual([])
  })

  it("works with the fake server's full object_info", () => {
    const defs = buildNodeDefs(Object.keys(OI), {
      models: DEFAULT_MODELS,
      inputFiles: () => ['example.png'],
      inputExists: () => true
    })
    const raw = Object.fromEntries(Object.entries(defs).map(([k, d]) => [k, nodeInfo(k, d)]))
    const { prompt } = convertUiWorkflow(read('txt2img.json'), parseObjectInfo(raw))
    expect(prompt).toEqual(read('txt2img.api.json'))
  })
})

function single(node: Record<string, unknown>, links: unknown[] = []): unknown {
  return { last_node_id: 9, last_link_id: 9, nodes: [{ mode: 0, ...node }], links }
}

describe('widget values', () => {
  it('LoadImage: the upload button value is no input', () => {
    const g = single({ id: 1, type: 'LoadImage', widgets_values: ['photo.png', 'image'] })
    expect(convertUiWorkflow(g, OI).prompt['1']?.inputs).toEqual({ image: 'photo.png' })
  })

  it('KSamplerAdvanced: noise_seed is followed by its control value', () => {
    const g = single({
      id: 2,
      type: 'KSamplerAdvanced',
      widgets_values: ['enable', 9, 'fixed', 20, 8, 'euler', 'normal', 0, 10000, 'disable']
    })
    expect(convertUiWorkflow(g, OI).prompt['2']?.inputs).toEqual({
      add_noise: 'enable',
      noise_seed: 9,
      steps: 20,
      cfg: 8,
      sampler_name: 'euler',
      scheduler: 'normal',
      start_at_step: 0,
      end_at_step: 10000,
      return_with_leftover_noise: 'disable'
    })
  })

  it('V3 classes: null display name, combo control + filter values, forceInput not a widget', () => {
    const g = single({ id: 3, type: 'TestV3Text', widgets_values: ['hi', 'b', 'fixed', '', 7] })
    const { prompt } = convertUiWorkflow(g, OI)
    expect(prompt['3']).toEqual({
      class_type: 'TestV3Text',
      inputs: { text: 'hi', mode: 'b', count: 7 },
      _meta: { title: 'TestV3Text' }
    })
  })

  it('older files that saved a value for a forceInput widget still line up', () => {
    const g = single({ id: 3, type: 'TestV3Text', widgets_values: ['hi', 'a', 'fixed', '', 7, 1] })
    expect(convertUiWorkflow(g, OI).prompt['3']?.inputs).toEqual({
      text: 'hi',
      mode: 'a',
      count: 7,
      forced: 1
    })
  })

  it('missing values take the defaults, with a warning', () => {
    const g = single({ id: 4, type: 'EmptyLatentImage', widgets_values: [640] })
    const { prompt, warnings } = convertUiWorkflow(g, OI)
    expect(prompt['4']?.inputs).toEqual({ width: 640, height: 512, batch_size: 1 })
    expect(warnings.join()).toMatch(/node 4 .*2 widget value/)
  })

  it('object widgets_values (VHS style) are read by name; array values are wrapped', () => {
    const g = single({ id: 5, type: 'TestV3Text', widgets_values: { text: ['x'], mode: 'a' } })
    expect(convertUiWorkflow(g, OI).prompt['5']?.inputs).toEqual({
      text: { __value__: ['x'] },
      mode: 'a'
    })
  })
})

describe('refusals', () => {
  it('a class the server lacks names the node', () => {
    const g = single({ id: 7, type: 'FancyUpscaler', title: 'Make big', widgets_values: [] })
    let err: unknown
    try {
      convertUiWorkflow(g, OI)
    } catch (e) {
      err = e
    }
    expect(err).toBeInstanceOf(UiWorkflowError)
    const e = err as UiWorkflowError
    expect(e.node).toEqual({ id: '7', title: 'Make big', classType: 'FancyUpscaler' })
    expect(e.message).toMatch(/node 7 "Make big" \(FancyUpscaler\): the server does not have/)
  })

  it('a missing class inside a subgraph is named by its full id', () => {
    const g = read('subgraph.json') as { definitions: { subgraphs: Array<{ nodes: RawNode[] }> } }
    const sub = g.definitions.subgraphs[0]
    if (sub) sub.nodes.push({ id: 9, type: 'Missing', mode: 0 } as RawNode)
    expect(() => convertUiWorkflow(g, OI)).toThrow(/node 50:9 \(Missing\)/)
  })

  it('reroutes in a circle are refused, not looped forever', () => {
    const g = {
      last_node_id: 3,
      nodes: [
        { id: 1, type: 'Reroute', mode: 0, inputs: [{ name: '', type: '*', link: 2 }] },
        { id: 2, type: 'Reroute', mode: 0, inputs: [{ name: '', type: '*', link: 1 }] },
        {
          id: 3,
          type: 'VAEDecode',
          mode: 0,
          inputs: [{ name: 'samples', type: 'LATENT', link: 3 }]
        }
      ],
      links: [
        [1, 1, 0, 2, 0, '*'],
        [2, 2, 0, 1, 0, '*'],
        [3, 2, 0, 3, 0, 'LATENT']
      ]
    }
    expect(() => convertUiWorkflow(g, OI)).toThrow(/circle/)
  })

  it('API prompts and junk are not UI workflows', () => {
    expect(isUiWorkflow(read('txt2img.json'))).toBe(true)
    expect(isUiWorkflow(read('txt2img.api.json'))).toBe(false)
    expect(isUiWorkflow(null)).toBe(false)
    expect(() => convertUiWorkflow(read('txt2img.api.json'), OI)).toThrow(UiWorkflowError)
  })

  it('parseObjectInfo refuses a non-object and skips broken entries', () => {
    expect(() => parseObjectInfo([])).toThrow()
    const oi = parseObjectInfo({ A: 5, B: { input: { required: { x: 'nope', y: ['INT'] } } } })
    expect(Object.keys(oi)).toEqual(['B'])
    expect(oi.B?.input.required).toEqual({ y: ['INT'] })
  })
})

describe('link following (property)', () => {
  it('any chain of Reroutes and bypassed nodes reaches the real origin', () => {
    fc.assert(
      fc.property(fc.array(fc.boolean(), { maxLength: 8 }), (chain) => {
        // 1 (loader) -> chain of Reroute (false) / bypassed LoraLoader (true) -> 99 (KSampler)
        const nodes: unknown[] = [
          { id: 1, type: 'CheckpointLoaderSimple', mode: 0, widgets_values: ['m'] }
        ]
        const links: unknown[] = []
        let prev = 1
        chain.forEach((bypass, i) => {
          const id = 10 + i
          links.push([i + 1, prev, 0, id, 0, 'MODEL'])
          nodes.push(
            bypass
              ? {
                  id,
                  type: 'LoraLoader',
                  mode: 4,
                  inputs: [{ name: 'model', type: 'MODEL', link: i + 1 }],
                  outputs: [{ name: 'MODEL', type: 'MODEL' }]
                }
              : { id, type: 'Reroute', mode: 0, inputs: [{ name: '', type: '*', link: i + 1 }] }
          )
          prev = id
        })
        links.push([500, prev, 0, 99, 0, 'MODEL'])
        nodes.push({
          id: 99,
          type: 'KSampler',
          mode: 0,
          inputs: [{ name: 'model', type: 'MODEL', link: 500 }],
          widgets_values: [1, 'fixed', 20, 8, 'euler', 'normal', 1]
        })
        const { prompt } = convertUiWorkflow({ nodes, links, last_node_id: 99 }, OI)
        expect(prompt['99']?.inputs.model).toEqual(['1', 0])
        expect(Object.keys(prompt).sort()).toEqual(['1', '99'])
      })
    )
  })
})
