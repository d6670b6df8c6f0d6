/**
 * Python's `heapq` (same sift algorithm), so `queue_pending` comes out in the same
 * heap order a real server shows: only heap-ordered, never sorted.
 */
import type { QueueItem } from './types'

/** Tuple comparison `(number, prompt_id, ...)`. */
export function itemLess(a: QueueItem, b: QueueItem): boolean {
  if (a[0] !== b[0]) return a[0] < b[0]
  return a[1] < b[1]
}

function siftDown(heap: QueueItem[], startPos: number, pos: number): void {
  const newItem = heap[pos] as QueueItem
  while (pos > startPos) {
    const parentPos = (pos - 1) >> 1
    const parent = heap[parentPos] as QueueItem
    if (itemLess(newItem, parent)) {
      heap[pos] = parent
      pos = parentPos
      continue
    }
    break
  }
  heap[pos] = newItem
}

function siftUp(heap: QueueItem[], pos: number): void {
  const endPos = heap.length
  const startPos = pos
  const newItem = heap[pos] as QueueItem
  let childPos = 2 * pos + 1
  while (childPos < endPos) {
    const rightPos = childPos + 1
    if (rightPos < endPos && !itemLess(heap[childPos] as QueueItem, heap[rightPos] as QueueItem)) {
      childPos = rightPos
    }
    heap[pos] = heap[childPos] as QueueItem
    pos = childPos
    childPos = 2 * pos + 1
  }
  heap[pos] = newItem
  siftDown(heap, startPos, pos)
}

export function heapPush(heap: QueueItem[], item: QueueItem): void {
  heap.push(item)
  siftDown(heap, 0, heap.length - 1)
}

export function heapPop(heap: QueueItem[]): QueueItem | undefined {
  const last = heap.pop()
  if (last === undefined || heap.length === 0) return last
  const ret = heap[0]
  heap[0] = last
  siftUp(heap, 0)
  return ret
}

export function heapify(heap: QueueItem[]): void {
  for (let i = (heap.length >> 1) - 1; i >= 0; i--) siftUp(heap, i)
}
