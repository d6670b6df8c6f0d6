import { describe, expect, it } from 'vitest'
import {
  jobError,
  jobErrorLines,
  sayAttempt,
  sayJobError,
  sayJobNote,
  sayWorkflowProblem,
  workflowAdvice
} from '../../src/main/core/log'
import type {
  AttemptCode,
  AttemptSaid,
  JobErrorCode,
  JobErrorSaid,
  JobNoteCode,
  JobNoteSaid,
  WorkflowCode,
  WorkflowSaid
} from '../../src/shared/job-said'
import type { SaidOf } from '../../src/shared/said'

/** One said of every code, with the English the core wrote before codes. */
const NOTES: { [C in JobNoteCode]: [SaidOf<JobNoteSaid, C>, string] } = {
  cancelled: [{ code: 'cancelled' }, 'Cancelled by the user'],
  'cancelled-on': [
    { code: 'cancelled-on', server: 'gpu-1' },
    'Cancelled on gpu-1 (removed from its queue there)'
  ],
  interrupted: [{ code: 'interrupted' }, 'Interrupted on the server'],
  'held-back': [
    { code: 'held-back' },
    'Waiting in Comfy Balancer until a server is about to be free'
  ],
  paused: [{ code: 'paused' }, 'Waiting: sending is paused'],
  waiting: [
    { code: 'waiting', why: { code: 'none-healthy', total: 2 } },
    'Waiting for a healthy server: No healthy server (0/2 up)'
  ],
  'retried-as': [{ code: 'retried-as', id: 'abc' }, 'Retried as abc'],
  'retry-of': [{ code: 'retry-of', id: 'abc' }, 'Retry of abc'],
  moved: [
    {
      code: 'moved',
      why: { code: 'server-down', server: 'gpu-1', why: { code: 'timeout', ms: 900 } }
    },
    'gpu-1 is down (Timed out after 900 ms)'
  ],
  'missing-outputs': [
    {
      code: 'missing-outputs',
      over: { n: 2, limit: 100 },
      files: [{ file: 'a.png', why: { code: 'http', status: 404, proxyPage: false } }]
    },
    'Some outputs could not be downloaded: 2 outputs over the limit of 100 per job; a.png: HTTP 404 Not Found'
  ],
  text: [{ code: 'text', text: 'as it was' }, 'as it was']
}

const ATTEMPTS: { [C in AttemptCode]: [SaidOf<AttemptSaid, C>, string] } = {
  sending: [{ code: 'sending' }, 'sending'],
  accepted: [{ code: 'accepted' }, 'accepted'],
  'not-received': [{ code: 'not-received' }, 'not received'],
  unknown: [{ code: 'unknown' }, 'unknown (server unreachable)'],
  'cannot-run': [
    { code: 'cannot-run', text: 'missing node Foo' },
    'cannot run it: missing node Foo'
  ],
  refused: [{ code: 'refused', text: 'bad prompt' }, 'refused: bad prompt'],
  failed: [
    { code: 'failed', why: { code: 'refused' } },
    'Connection refused (is ComfyUI running on that port?)'
  ],
  'upload-failed': [
    { code: 'upload-failed', why: { code: 'timeout', ms: 10 } },
    'upload failed: Timed out after 10 ms'
  ],
  'input-unreadable': [
    { code: 'input-unreadable', path: '/in/a.png', detail: 'EACCES' },
    'upload failed: Cannot read the input image /in/a.png: EACCES'
  ],
  text: [{ code: 'text', text: 'as it was' }, 'as it was']
}

const ERRORS: { [C in JobErrorCode]: [SaidOf<JobErrorSaid, C>, string] } = {
  comfy: [{ code: 'comfy', text: 'RuntimeError: out of memory' }, 'RuntimeError: out of memory'],
  'server-error': [{ code: 'server-error' }, 'The server reported an error'],
  refused: [
    { code: 'refused', text: 'Prompt outputs failed validation' },
    'Prompt outputs failed validation'
  ],
  'server-removed': [{ code: 'server-removed' }, 'The chosen server was removed'],
  'no-server-took': [
    {
      code: 'no-server-took',
      tries: [{ server: 'a', why: { code: 'failed', why: { code: 'timeout', ms: 5 } } }]
    },
    'No server could take the job. a: Timed out after 5 ms'
  ],
  'none-can-run': [
    { code: 'none-can-run', servers: [{ name: 'a', nodes: ['Foo'], models: [] }] },
    'No server can run this workflow'
  ],
  'lost-too-often': [
    { code: 'lost-too-often', n: 3, why: { code: 'forgotten', server: 'a' } },
    'Servers lost this job 3 times after accepting it; it is not sent again'
  ],
  'moved-too-often': [
    { code: 'moved-too-often', n: 5, why: { code: 'server-down', server: 'a', why: null } },
    'Moved 5 times; it is not sent again'
  ],
  'no-result': [
    { code: 'no-result', server: 'a', why: { code: 'not-json', page: false } },
    'a does not give the result of this job: Answered with something that is not JSON'
  ],
  'input-unreadable': [
    { code: 'input-unreadable', path: '/in/a.png', detail: 'EACCES' },
    'Cannot read the input image /in/a.png: EACCES'
  ],
  internal: [{ code: 'internal', text: 'boom' }, 'boom'],
  text: [{ code: 'text', text: 'as it was' }, 'as it was']
}

const WORKFLOW: { [C in WorkflowCode]: [SaidOf<WorkflowSaid, C>, string] } = {
  'ui-format': [
    { code: 'ui-format' },
    'this is a UI-format workflow (nodes and links), which the server cannot run directly. In ComfyUI use "Save (API)" (Workflow menu > Export (API)), or use a PNG image saved by ComfyUI.'
  ],
  'needs-object-info': [
    { code: 'needs-object-info' },
    'this is a UI-format workflow (nodes and links), which needs a server to convert it'
  ],
  'not-converted': [
    {
      code: 'not-converted',
      node: { id: '5', title: 'My sampler', classType: 'KSampler' },
      detail: 'its links go round in a circle'
    },
    'this UI workflow could not be converted: node 5 "My sampler" (KSampler): its links go round in a circle'
  ],
  'not-workflow': [{ code: 'not-workflow' }, 'expected a workflow object of nodes (API format)'],
  'no-nodes': [{ code: 'no-nodes' }, 'the workflow has no nodes'],
  'too-many-nodes': [
    { code: 'too-many-nodes', nodes: 20, limit: 10 },
    'the workflow is too large (20 nodes; the limit is 10)'
  ],
  'too-deep': [
    { code: 'too-deep', limit: 64 },
    'the workflow is nested too deeply (more than 64 levels) to be a ComfyUI workflow'
  ],
  'bad-node': [
    { code: 'bad-node', id: '3', what: 'bad-inputs', classType: 'KSampler' },
    'node "3" (KSampler) has inputs that are not an object'
  ],
  'too-large': [
    { code: 'too-large', bytes: null, limitBytes: 50 * 1024 * 1024 },
    'the file is too large (more than 50.0 MB; the limit is 50.0 MB)'
  ],
  'bad-png': [
    { code: 'bad-png', detail: 'not a PNG file' },
    'the PNG could not be read: not a PNG file'
  ],
  'png-none': [
    { code: 'png-none' },
    'this PNG holds no ComfyUI workflow (it was not saved by ComfyUI, or its metadata was stripped)'
  ],
  'png-bad-json': [{ code: 'png-bad-json' }, 'the workflow inside this PNG is not valid JSON'],
  'bad-json': [
    { code: 'bad-json', at: 3 },
    'not valid JSON (error near character 3); expected an API-format workflow (.json) or a ComfyUI PNG'
  ],
  'wrong-type': [{ code: 'wrong-type' }, 'only .json and .png workflows can be submitted'],
  'not-absolute': [
    { code: 'not-absolute' },
    'the path must be absolute (the full path from the drive or root)'
  ],
  missing: [{ code: 'missing' }, 'the file does not exist'],
  'not-a-file': [{ code: 'not-a-file', folder: true }, 'this is not a file but a folder'],
  unreadable: [{ code: 'unreadable', detail: 'EACCES' }, 'the file cannot be read (EACCES)'],
  text: [{ code: 'text', text: 'as it was' }, 'as it was']
}

describe('job and workflow reasons in English (the log and the CLI)', () => {
  it.each(Object.entries(NOTES))('note %s: the English of before', (_c, [said, english]) => {
    expect(sayJobNote(said)).toBe(english)
  })
  it.each(Object.entries(ATTEMPTS))('attempt %s: the English of before', (_c, [said, english]) => {
    expect(sayAttempt(said)).toBe(english)
  })
  it.each(Object.entries(ERRORS))('error %s: the English of before', (_c, [said, english]) => {
    expect(sayJobError(said)).toBe(english)
  })
  it.each(Object.entries(WORKFLOW))('workflow %s: the English of before', (_c, [said, english]) => {
    expect(sayWorkflowProblem(said)).toBe(english)
  })

  it('lists what each server said under an error, as the details were before', () => {
    expect(jobErrorLines(ERRORS['none-can-run'][0])).toEqual(['a: missing node Foo'])
    expect(jobErrorLines(ERRORS['no-server-took'][0])).toEqual(['a: Timed out after 5 ms'])
    expect(jobErrorLines(ERRORS['lost-too-often'][0])).toEqual([
      'a no longer knows the job (restarted?)'
    ])
    expect(jobErrorLines(ERRORS.comfy[0])).toEqual([])
  })

  it('records an error with its said and its English', () => {
    expect(jobError({ code: 'server-removed' }, { nodeId: '3' })).toEqual({
      said: { code: 'server-removed' },
      message: 'The chosen server was removed',
      nodeId: '3'
    })
    expect(workflowAdvice({ code: 'missing' })).toBe('Check its name and folder.')
    expect(workflowAdvice({ code: 'ui-format' })).toBeNull()
  })
})
