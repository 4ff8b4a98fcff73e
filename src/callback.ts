import type { AbortOptions } from './lifecycle.js'

export type Callback<T = void> = (err: Error | null, value?: T) => void

/** `done`, also reported to `callback` when one is given. */
export function withCallback<T> (done: Promise<T>, callback?: Callback<T>): Promise<T> {
  if (callback != null) done.then(v => { callback(null, v) }, (err: Error) => { callback(err) })
  return done
}

/** The optional arguments after a listen or connect target: a host, options, a callback. */
export function trailing<T> (rest: Array<string | AbortOptions | Callback<T> | undefined>): { host?: string, signal?: AbortSignal, callback?: Callback<T> } {
  const out: { host?: string, signal?: AbortSignal, callback?: Callback<T> } = {}
  for (const arg of rest) {
    if (typeof arg === 'string') out.host = arg
    else if (typeof arg === 'function') out.callback = arg
    else if (arg != null) out.signal = arg.signal
  }
  return out
}
