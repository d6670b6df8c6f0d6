/** What a CLI command may touch: output, environment, and the user's Ctrl-C. */
export interface CliIo {
  out: (line: string) => void
  err: (line: string) => void
  env: NodeJS.ProcessEnv
  isTty: boolean
  /** Resolves when the user asks to stop (Ctrl-C). */
  interrupted: Promise<void>
}
