/**
 * Prompt validation, ported from ComfyUI 0.3.64 `execution.validate_prompt` /
 * `validate_inputs` so the 400 bodies match field for field. Anything the Python code
 * would raise outside its own try blocks is thrown as a PyError (the route answers 500).
 */
import { inputSpecs } from './nodes'
import {
  PyError,
  isDict,
  pyEquals,
  pyFloat,
  pyFloatStr,
  pyGetItem,
  pyIn,
  pyInt,
  pyIter,
  pyRepr,
  pyStr,
  pyTruthy
} from './pyjson'
import type { FakeNodeDef, InputType } from './types'

export interface PromptError {
  type: string
  message: string
  details: string
  extra_info: Record<string, unknown>
}

export interface NodeError {
  errors: PromptError[]
  dependent_outputs: string[]
  class_type: unknown
}

export type ValidationResult =
  | { ok: true; outputs: string[]; nodeErrors: Record<string, NodeError> }
  | { ok: false; error: PromptError; nodeErrors: Record<string, NodeError> }

type Validated = Map<string, [boolean, PromptError[], string]>

function fail(error: PromptError): ValidationResult {
  return { ok: false, error, nodeErrors: {} }
}

/** comfy_execution.validation.validate_node_input; `*` stands for AnyType. */
export function validateNodeInput(received: InputType, input: InputType): boolean {
  if (received === '*' || input === '*') return true
  if (typeof received !== 'string' || typeof input !== 'string') {
    return Array.isArray(received) && Array.isArray(input) && pyEquals(received, input)
  }
  if (received === input) return true
  const a = new Set(received.split(',').map((s) => s.trim()))
  return input.split(',').some((s) => a.has(s.trim()))
}

function typeStr(t: InputType): string {
  return typeof t === 'string' ? t : pyStr(t)
}

function numStr(v: number, inputType: InputType): string {
  return inputType === 'FLOAT' ? pyFloatStr(v) : String(v)
}

function isUnhashable(v: unknown): boolean {
  return Array.isArray(v) || isDict(v)
}

function sortIds(ids: Iterable<string>): string[] {
  return [...ids].sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))
}

export interface ValidateOptions {
  /** 'newer' reports unknown nodes as `missing_node_type` (0.38.x). */
  version: 'current' | 'newer'
}

export function validatePrompt(
  prompt: unknown,
  partialTargets: unknown,
  defs: Record<string, FakeNodeDef>,
  opts: ValidateOptions
): ValidationResult {
  const outputs = new Set<string>()
  for (const x of pyIter(prompt)) {
    const node = pyGetItem(prompt, x)
    const id = String(x)
    if (!pyIn('class_type', node)) {
      if (opts.version === 'newer') {
        return fail({
          type: 'missing_node_type',
          message: 'Cannot execute because a node is missing the class_type property.',
          details: `Node ID '#${id}'`,
          extra_info: { node_id: id, class_type: null, node_title: null }
        })
      }
      return fail({
        type: 'invalid_prompt',
        message: 'Cannot execute because a node is missing the class_type property.',
        details: `Node ID '#${id}'`,
        extra_info: {}
      })
    }
    const classType = pyGetItem(node, 'class_type')
    if (isUnhashable(classType)) {
      throw new PyError(
        'TypeError',
        `unhashable type: '${Array.isArray(classType) ? 'list' : 'dict'}'`
      )
    }
    const cls =
      typeof classType === 'string' && Object.hasOwn(defs, classType) ? defs[classType] : undefined
    if (!cls) {
      if (opts.version === 'newer') {
        const meta = isDict(node) && isDict(node._meta) ? node._meta : {}
        const title = typeof meta.title === 'string' ? meta.title : pyStr(classType)
        return fail({
          type: 'missing_node_type',
          message: `Node '${title}' not found. The custom node may not be installed.`,
          details: `Node ID '#${id}'`,
          extra_info: { node_id: id, class_type: classType, node_title: title }
        })
      }
      return fail({
        type: 'invalid_prompt',
        message: `Cannot execute because node ${pyStr(classType)} does not exist.`,
        details: `Node ID '#${id}'`,
        extra_info: {}
      })
    }
    if (cls.output_node === true) {
      if (partialTargets === null || partialTargets === undefined || pyIn(x, partialTargets)) {
        outputs.add(id)
      }
    }
  }
  if (outputs.size === 0) {
    return fail({
      type: 'prompt_no_outputs',
      message: 'Prompt has no outputs',
      details: '',
      extra_info: {}
    })
  }

  const good: string[] = []
  const errors: Array<[string, PromptError[]]> = []
  const nodeErrors: Record<string, NodeError> = {}
  const validated: Validated = new Map()
  const dict = prompt as Record<string, unknown>
  for (const o of sortIds(outputs)) {
    let valid = false
    let reasons: PromptError[] = []
    try {
      const m = validateInputs(dict, o, validated, defs)
      valid = m[0]
      reasons = m[1]
    } catch (e) {
      if (!(e instanceof PyError)) throw e
      reasons = [
        {
          type: 'exception_during_validation',
          message: 'Exception when validating node',
          details: e.message,
          extra_info: { exception_type: e.pyType, traceback: fakeTraceback('validate_inputs') }
        }
      ]
      validated.set(o, [false, reasons, o])
    }
    if (valid) {
      good.push(o)
      continue
    }
    errors.push([o, reasons])
    for (const [nodeId, [ok, rs]] of validated) {
      if (ok || rs.length === 0) continue
      if (!nodeErrors[nodeId]) {
        nodeErrors[nodeId] = {
          errors: rs,
          dependent_outputs: [],
          class_type: pyGetItem(pyGetItem(dict, nodeId), 'class_type')
        }
      }
      nodeErrors[nodeId].dependent_outputs.push(o)
    }
  }
  if (good.length === 0) {
    // Only the output nodes' own reasons reach `details` (upstream failures leave it empty).
    const details = errors
      .flatMap(([, rs]) => rs.map((r) => `${r.message}: ${r.details}`))
      .join('\n')
    return {
      ok: false,
      error: {
        type: 'prompt_outputs_failed_validation',
        message: 'Prompt outputs failed validation',
        details,
        extra_info: {}
      },
      nodeErrors
    }
  }
  return { ok: true, outputs: good, nodeErrors }
}

export function fakeTraceback(fn: string): string[] {
  return [
    `  File "/ComfyUI/execution.py", line 1036, in validate_prompt\n    m = await validate_inputs(prompt_id, prompt, o, validated)\n`,
    `  File "/ComfyUI/execution.py", line 783, in ${fn}\n    o_class_type = prompt[o_id]['class_type']\n`
  ]
}

function validateInputs(
  prompt: Record<string, unknown>,
  uniqueId: string,
  validated: Validated,
  defs: Record<string, FakeNodeDef>
): [boolean, PromptError[], string] {
  const cached = validated.get(uniqueId)
  if (cached) return cached
  const node = pyGetItem(prompt, uniqueId)
  const inputs = pyGetItem(node, 'inputs')
  const classType = pyGetItem(node, 'class_type')
  const def = defs[String(classType)]
  if (!def) throw new PyError('KeyError', pyRepr(classType))
  const custom = def.validateInputs
  const customInputs = new Set(custom?.inputs ?? [])
  const errors: PromptError[] = []
  let valid = true

  for (const [x, spec, category] of inputSpecs(def)) {
    const inputType = spec[0]
    const extra = spec[1] ?? {}
    if (!pyIn(x, inputs)) {
      if (category === 'required') {
        errors.push({
          type: 'required_input_missing',
          message: 'Required input is missing',
          details: x,
          extra_info: { input_name: x }
        })
      }
      continue
    }
    let val = pyGetItem(inputs, x)
    const info = [inputType, extra]
    if (Array.isArray(val)) {
      if (val.length !== 2) {
        errors.push({
          type: 'bad_linked_input',
          message: 'Bad linked input, must be a length-2 list of [node_id, slot_index]',
          details: x,
          extra_info: { input_name: x, input_config: info, received_value: val }
        })
        continue
      }
      const oId: unknown = val[0]
      const oClass = pyGetItem(pyGetItem(prompt, oId), 'class_type')
      const oDef = defs[String(oClass)]
      if (!oDef) throw new PyError('KeyError', pyRepr(oClass))
      const receivedType = indexTuple(oDef.output, val[1])
      if (!customInputs.has('input_types') && !validateNodeInput(receivedType, inputType)) {
        errors.push({
          type: 'return_type_mismatch',
          message: 'Return type mismatch between linked nodes',
          details: `${x}, received_type(${receivedType}) mismatch input_type(${typeStr(inputType)})`,
          extra_info: {
            input_name: x,
            input_config: info,
            received_type: receivedType,
            linked_node: val
          }
        })
        continue
      }
      try {
        const r = validateInputs(prompt, String(oId), validated, defs)
        if (!r[0]) valid = false
      } catch (e) {
        if (!(e instanceof PyError)) throw e
        valid = false
        validated.set(String(oId), [
          false,
          [
            {
              type: 'exception_during_inner_validation',
              message: 'Exception when validating inner node',
              details: e.message,
              extra_info: {
                input_name: x,
                input_config: info,
                exception_message: e.message,
                exception_type: e.pyType,
                traceback: fakeTraceback('validate_inputs'),
                linked_node: val
              }
            }
          ],
          String(oId)
        ])
      }
      continue
    }

    try {
      if (isDict(val) && Object.hasOwn(val, '__value__')) {
        val = val.__value__
        setInput(inputs, x, val)
      }
      if (inputType === 'INT') val = pyInt(val)
      if (inputType === 'FLOAT') val = pyFloat(val)
      if (inputType === 'STRING') val = pyStr(val)
      if (inputType === 'BOOLEAN') val = pyTruthy(val)
      setInput(inputs, x, val)
    } catch (e) {
      if (!(e instanceof PyError)) throw e
      errors.push({
        type: 'invalid_input_type',
        message: `Failed to convert an input value to a ${typeStr(inputType)} value`,
        details: `${x}, ${pyStr(val)}, ${e.message}`,
        extra_info: {
          input_name: x,
          input_config: info,
          received_value: val,
          exception_message: e.message
        }
      })
      continue
    }

    if (customInputs.has(x)) continue
    const min = extra.min
    const max = extra.max
    if (typeof min === 'number' && typeof val === 'number' && val < min) {
      errors.push({
        type: 'value_smaller_than_min',
        message: `Value ${numStr(val, inputType)} smaller than min of ${numStr(min, inputType)}`,
        details: x,
        extra_info: { input_name: x, input_config: info, received_value: val }
      })
      continue
    }
    if (typeof max === 'number' && typeof val === 'number' && val > max) {
      errors.push({
        type: 'value_bigger_than_max',
        message: `Value ${numStr(val, inputType)} bigger than max of ${numStr(max, inputType)}`,
        details: x,
        extra_info: { input_name: x, input_config: info, received_value: val }
      })
      continue
    }
    if (Array.isArray(inputType)) {
      const v = val
      if (!inputType.some((o) => pyEquals(o, v))) {
        const big = inputType.length > 20
        errors.push({
          type: 'value_not_in_list',
          message: 'Value not in list',
          details: `${x}: '${pyStr(val)}' not in ${big ? `(list of length ${inputType.length})` : pyStr(inputType)}`,
          extra_info: { input_name: x, input_config: big ? null : info, received_value: val }
        })
        continue
      }
    }
  }

  if (custom) {
    const values: Record<string, unknown> = {}
    for (const name of custom.inputs) {
      if (!isDict(inputs) || !Object.hasOwn(inputs, name) || Array.isArray(inputs[name])) continue
      values[name] = inputs[name]
    }
    const present = Object.keys(values)
    if (present.length > 0) {
      const r = custom.check(values)
      if (r !== true) {
        for (const x of present) {
          errors.push({
            type: 'custom_validation_failed',
            message: 'Custom validation failed for node',
            details: `${x} - ${r}`,
            extra_info: { input_name: x }
          })
        }
      }
    }
  }

  const ret: [boolean, PromptError[], string] =
    errors.length > 0 || !valid ? [false, errors, uniqueId] : [true, [], uniqueId]
  validated.set(uniqueId, ret)
  return ret
}

function setInput(inputs: unknown, key: string, value: unknown): void {
  if (isDict(inputs)) inputs[key] = value
}

function indexTuple(tuple: string[], index: unknown): string {
  if (typeof index === 'boolean') index = Number(index)
  if (typeof index !== 'number' || !Number.isInteger(index)) {
    throw new PyError(
      'TypeError',
      `tuple indices must be integers or slices, not ${index === null ? 'NoneType' : typeof index === 'string' ? 'str' : typeof index === 'number' ? 'float' : 'list'}`
    )
  }
  const i = index < 0 ? tuple.length + index : index
  const v = tuple[i]
  if (i < 0 || v === undefined) throw new PyError('IndexError', 'tuple index out of range')
  return v
}
