import fs from 'node:fs'
import { describe, expect, it } from 'vitest'
import type { ApiPrompt } from '../../src/main/core/jobs/api-prompt'
import { parseObjectInfo } from '../../src/main/core/jobs/ui-workflow'
import {
  makeVariations,
  MAX_RANDOM_SEED,
  parseSet,
  resolveNode,
  seedInputs,
  VariationError
} from '../../src/main/core/jobs/variations'
import { FIXTURE } from './helpers'

const base = (): ApiPrompt => JSON.parse(fs.readFileSync(FIXTURE, 'utf8'))
const FILE_SEED = 156680208700286

/** A repeatable rng (a linear congruential generator). */
function lcg(seed = 1): () => number {
  let x = seed
  return () => {
    x = (x * 1103515245 + 12345) % 2 ** 31
    return x / 2 ** 31
  }
}

const OBJECT_INFO = parseObjectInfo({
  KSampler: {
    input: {
      required: {
        model: ['MODEL'],
        seed: ['INT', { default: 0, min: 0, max: 2 ** 64 - 1 }],
        steps: ['INT', { default: 20, min: 1, max: 10000 }],
        cfg: ['FLOAT', { default: 8, min: 0, max: 100, step: 0.1 }],
        sampler_name: [['euler', 'euler_ancestral', 'dpmpp_2m']],
        scheduler: ['COMBO', { options: ['normal', 'karras'] }],
        positive: ['CONDITIONING'],
        negative: ['CONDITIONING'],
        latent_image: ['LATENT'],
        denoise: ['FLOAT', { default: 1, min: 0, max: 1 }]
      }
    }
  },
  CLIPTextEncode: {
    input: { required: { text: ['STRING', { multiline: true }], clip: ['CLIP'] } }
  },
  EmptyLatentImage: {
    input: {
      required: {
        width: ['INT', { min: 16, max: 16384 }],
        height: ['INT', { min: 16, max: 16384 }],
        batch_size: ['INT', { min: 1, max: 4096 }]
      }
    }
  },
  SaveImage: { input: { required: { images: ['IMAGE'], filename_prefix: ['STRING'] } } },
  Flags: { input: { required: { tiled: ['BOOLEAN'], seed: ['STRING'] } } }
})

describe('seed modes', () => {
  it('random gives every run its own seed, within safe integers', () => {
    const runs = makeVariations(base(), { count: 50, seed: 'random', sets: [], rng: lcg(7) })
    const seeds = runs.map((p) => p['3']!.inputs.seed as number)
    expect(new Set(seeds).size).toBe(50)
    for (const s of seeds) {
      expect(Number.isSafeInteger(s)).toBe(true)
      expect(s).toBeGreaterThanOrEqual(0)
      expect(s).toBeLessThanOrEqual(MAX_RANDOM_SEED)
    }
    // Large seeds are drawn, not only small ones (53 bits, not 32).
    expect(Math.max(...seeds)).toBeGreaterThan(2 ** 40)
  })

  it('random seeds stay distinct even with an rng that always says the same', () => {
    const runs = makeVariations(base(), { count: 9, seed: 'random', sets: [], rng: () => 0 })
    expect(new Set(runs.map((p) => p['3']!.inputs.seed)).size).toBe(9)
  })

  it('increment starts at the file’s seed and counts up', () => {
    const runs = makeVariations(base(), { count: 4, seed: 'increment', sets: [] })
    expect(runs.map((p) => p['3']!.inputs.seed)).toEqual([
      FILE_SEED,
      FILE_SEED + 1,
      FILE_SEED + 2,
      FILE_SEED + 3
    ])
  })

  it('increment wraps to the minimum after the input’s maximum', () => {
    const info = parseObjectInfo({
      RandomNoise: { input: { required: { noise_seed: ['INT', { min: 0, max: 10 }] } } }
    })
    const p: ApiPrompt = { '1': { class_type: 'RandomNoise', inputs: { noise_seed: 9 } } }
    const runs = makeVariations(p, { count: 4, seed: 'increment', sets: [] }, info)
    expect(runs.map((r) => r['1']!.inputs.noise_seed)).toEqual([9, 10, 0, 1])
  })

  it('fixed leaves the seed and gives identical prompts', () => {
    const runs = makeVariations(base(), { count: 3, seed: 'fixed', sets: [] })
    expect(runs).toHaveLength(3)
    for (const r of runs) expect(r).toEqual(base())
    // Copies, not the same object three times.
    runs[0]!['3']!.inputs.steps = 1
    expect(runs[1]!['3']!.inputs.steps).toBe(20)
  })

  it('covers seed and noise_seed of every sampler, each on its own, but not links', () => {
    const p: ApiPrompt = {
      '1': { class_type: 'KSamplerAdvanced', inputs: { noise_seed: 5, steps: 10 } },
      '2': { class_type: 'RandomNoise', inputs: { noise_seed: 100 } },
      '3': { class_type: 'MySeededNode', inputs: { seed: 7 } },
      '4': { class_type: 'KSampler', inputs: { seed: ['9', 0] } },
      '5': { class_type: 'Flags', inputs: { seed: 'abc', tiled: true } }
    }
    expect(seedInputs(p, OBJECT_INFO).map((s) => `${s.node}.${s.input}`)).toEqual([
      '1.noise_seed',
      '2.noise_seed',
      '3.seed'
    ])
    const runs = makeVariations(p, { count: 2, seed: 'increment', sets: [] }, OBJECT_INFO)
    expect(runs[1]!['1']!.inputs.noise_seed).toBe(6)
    expect(runs[1]!['2']!.inputs.noise_seed).toBe(101)
    expect(runs[1]!['3']!.inputs.seed).toBe(8)
    expect(runs[1]!['4']!.inputs.seed).toEqual(['9', 0])
    expect(runs[1]!['5']!.inputs.seed).toBe('abc')
    const random = makeVariations(p, { count: 1, seed: 'random', sets: [], rng: lcg(3) })[0]!
    expect(random['1']!.inputs.noise_seed).not.toBe(random['2']!.inputs.noise_seed)
  })

  it('an INT named seed whose class says it is a STRING is no seed', () => {
    const p: ApiPrompt = { '5': { class_type: 'Flags', inputs: { seed: 12 } } }
    expect(seedInputs(p, OBJECT_INFO)).toEqual([])
    expect(seedInputs(p)).toHaveLength(1)
  })

  it('refuses a count outside 1..1000', () => {
    for (const count of [0, 1001, 2.5]) {
      expect(() => makeVariations(base(), { count, seed: 'fixed', sets: [] })).toThrow(
        /from 1 to 1000/
      )
    }
    expect(makeVariations(base(), { count: 1000, seed: 'increment', sets: [] })).toHaveLength(1000)
  })
})

describe('--set NODE.INPUT=VALUE', () => {
  it('parses the node, input and value (dots in titles, = in values)', () => {
    expect(parseSet('26.text=a=b')).toEqual({ node: '26', input: 'text', value: 'a=b' })
    expect(parseSet('Loader v1.5.ckpt_name=x')).toEqual({
      node: 'Loader v1.5',
      input: 'ckpt_name',
      value: 'x'
    })
    for (const bad of ['26text=a', '26.text', '.text=a', '26.=a']) {
      expect(() => parseSet(bad)).toThrow(/NODE\.INPUT=VALUE/)
    }
  })

  it('sets a text by node id in every run, with the seed mode applied after', () => {
    const runs = makeVariations(
      base(),
      { count: 3, seed: 'increment', sets: [{ node: '6', input: 'text', value: 'a red fox' }] },
      OBJECT_INFO
    )
    for (const r of runs) expect(r['6']!.inputs.text).toBe('a red fox')
    expect(runs[2]!['3']!.inputs.seed).toBe(FILE_SEED + 2)
  })

  it('increment starts from a seed given with --set', () => {
    const runs = makeVariations(base(), {
      count: 2,
      seed: 'increment',
      sets: [{ node: '3', input: 'seed', value: '100' }]
    })
    expect(runs.map((r) => r['3']!.inputs.seed)).toEqual([100, 101])
  })

  it('finds a node by its title, and refuses a title on several nodes naming them', () => {
    const p = base()
    expect(resolveNode(p, 'Empty Latent Image')).toBe('5')
    expect(resolveNode(p, 'empty latent image')).toBe('5')
    expect(() => resolveNode(p, 'CLIP Text Encode (Prompt)')).toThrow(
      'The title "CLIP Text Encode (Prompt)" is on nodes 6, 7: use the node id instead'
    )
    expect(() => resolveNode(p, 'Nope')).toThrow('No node has the id or title "Nope"')
  })

  it('types values from object_info: INT, FLOAT, BOOLEAN, STRING and choices', () => {
    const p = base()
    p['10'] = { class_type: 'Flags', inputs: { tiled: false, seed: 'x' } }
    const [r] = makeVariations(
      p,
      {
        count: 1,
        seed: 'fixed',
        sets: [
          { node: 'Empty Latent Image', input: 'width', value: '768' },
          { node: '3', input: 'cfg', value: '7.5' },
          { node: '3', input: 'sampler_name', value: 'dpmpp_2m' },
          { node: '3', input: 'scheduler', value: 'karras' },
          { node: '10', input: 'tiled', value: 'TRUE' },
          { node: '10', input: 'seed', value: '42' },
          { node: '9', input: 'filename_prefix', value: '123' }
        ]
      },
      OBJECT_INFO
    )
    expect(r!['5']!.inputs.width).toBe(768)
    expect(r!['3']!.inputs.cfg).toBe(7.5)
    expect(r!['3']!.inputs.sampler_name).toBe('dpmpp_2m')
    expect(r!['3']!.inputs.scheduler).toBe('karras')
    expect(r!['10']!.inputs.tiled).toBe(true)
    expect(r!['10']!.inputs.seed).toBe('42')
    expect(r!['9']!.inputs.filename_prefix).toBe('123')
  })

  const refused = (set: { node: string; input: string; value: string }, info = OBJECT_INFO) => {
    try {
      makeVariations(base(), { count: 1, seed: 'fixed', sets: [set] }, info)
    } catch (err) {
      expect(err).toBeInstanceOf(VariationError)
      return (err as Error).message
    }
    throw new Error('not refused')
  }

  it('refuses bad values with a message naming node and input', () => {
    expect(refused({ node: '5', input: 'width', value: '7.5' })).toBe(
      'node 5 (Empty Latent Image, EmptyLatentImage) input "width" needs a whole number, got "7.5"'
    )
    expect(refused({ node: '5', input: 'width', value: '8' })).toBe(
      'node 5 (Empty Latent Image, EmptyLatentImage) input "width" must be at least 16, got 8'
    )
    expect(refused({ node: '3', input: 'denoise', value: 'lots' })).toMatch(
      /^node 3 \(KSampler\) input "denoise" needs a number/
    )
    expect(refused({ node: '3', input: 'sampler_name', value: 'ddim' })).toBe(
      'node 3 (KSampler) input "sampler_name": "ddim" is not one of the choices: euler, euler_ancestral, dpmpp_2m'
    )
    expect(refused({ node: '3', input: 'model', value: 'x' })).toMatch(
      /input "model" takes a MODEL from another node/
    )
    expect(refused({ node: '3', input: 'sead', value: '1' })).toMatch(
      /^node 3 \(KSampler\) has no input "sead" \(its inputs: seed, steps, cfg/
    )
  })

  it('without object_info reads the value as the type already in the file', () => {
    const [r] = makeVariations(base(), {
      count: 1,
      seed: 'fixed',
      sets: [
        { node: '3', input: 'cfg', value: '6.5' },
        { node: '6', input: 'text', value: 'moon' }
      ]
    })
    expect(r!['3']!.inputs.cfg).toBe(6.5)
    expect(r!['6']!.inputs.text).toBe('moon')
    const none = parseObjectInfo({})
    expect(refused({ node: '3', input: 'steps', value: 'many' }, none)).toMatch(
      /input "steps" needs a number/
    )
    expect(refused({ node: '3', input: 'model', value: 'x' }, none)).toMatch(
      /input "model" is fed by another node/
    )
  })

  it('leaves the original prompt untouched', () => {
    const p = base()
    makeVariations(
      p,
      { count: 2, seed: 'random', sets: [{ node: '6', input: 'text', value: 'x' }] },
      OBJECT_INFO
    )
    expect(p).toEqual(base())
  })
})
