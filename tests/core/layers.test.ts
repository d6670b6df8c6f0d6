/** The layer rules of architecture.md are enforced by ESLint: a violation is an error. */
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const eslint = new ESLint({ cwd: process.cwd() })

async function problems(filePath: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath })
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-imports').map((m) => m.message)
}

describe('layer rules', () => {
  it.each([
    [
      'src/main/core/jobs/x.ts',
      "import { FleetMonitor } from '../fleet/monitor'\nvoid FleetMonitor\n"
    ],
    ['src/main/core/comfy/x.ts', "import { JobEngine } from '../jobs/engine'\nvoid JobEngine\n"],
    ['src/main/core/fleet/x.ts', "import { BalancerCore } from '../app'\nvoid BalancerCore\n"],
    ['src/cli/x.ts', "import { Journal } from '../main/core/jobs/journal'\nvoid Journal\n"],
    ['src/main/x.ts', "import { parseSettings } from './core/settings'\nvoid parseSettings\n"],
    ['src/main/core/x.ts', "import { app } from 'electron'\nvoid app\n"],
    ['src/main/outputs2.ts', "import { shell } from 'electron'\nvoid shell\n"],
    ['src/shared/x.ts', "import { BalancerCore } from '../main/core/app'\nvoid BalancerCore\n"]
  ])(
    'refuses what %s may not import',
    async (file, code) => {
      expect(await problems(file, code)).not.toEqual([])
    },
    30_000
  )

  it.each([
    ['src/cli/x.ts', "import { BalancerCore } from '../main/core/app'\nvoid BalancerCore\n"],
    [
      'src/main/core/jobs/x.ts',
      "import type { FleetPort } from '../fleet/port'\nexport type P = FleetPort\n"
    ],
    ['src/main/tray.ts', "import { Menu } from 'electron'\nvoid Menu\n"]
  ])(
    'lets %s import through its door',
    async (file, code) => {
      expect(await problems(file, code)).toEqual([])
    },
    30_000
  )
})
