/**
 * Encryption of server credentials (auth headers) at rest, through Electron's `safeStorage`
 * (Keychain on macOS, DPAPI on Windows, the Secret Service or KWallet on Linux). Kept behind a
 * small interface so the settings store is tested without Electron, and so a system with no
 * key store falls back to plain text knowingly instead of failing.
 */
import type { SafeStorage } from 'electron'

export interface SecretCipher {
  /** False when nothing can be encrypted here; secrets then stay in plain text. */
  available(): Promise<boolean>
  /** A warning for the log when the protection is weak (Linux without a key store), else null. */
  weakness(): string | null
  /** Base64 of the encrypted text. */
  encrypt(text: string): Promise<string>
  /** The text back from `encrypt`'s output; throws when it cannot be opened here. */
  decrypt(data: string): Promise<string>
}

/** For systems (and tests) with no key store: `available()` is false. */
export const noCipher: SecretCipher = {
  available: async () => false,
  weakness: () => null,
  encrypt: async () => {
    throw new Error('Encryption is not available on this system')
  },
  decrypt: async () => {
    throw new Error('Decryption is not available on this system')
  }
}

/** `safeStorage` as a `SecretCipher`. Use after the app is ready. */
export function safeStorageCipher(
  safeStorage: Pick<
    SafeStorage,
    | 'isAsyncEncryptionAvailable'
    | 'encryptStringAsync'
    | 'decryptStringAsync'
    | 'getSelectedStorageBackend'
  >,
  platform: NodeJS.Platform = process.platform
): SecretCipher {
  let availability: Promise<boolean> | null = null
  return {
    available: () => {
      availability ??= safeStorage.isAsyncEncryptionAvailable().catch(() => false)
      return availability
    },
    weakness: () =>
      platform === 'linux' && safeStorage.getSelectedStorageBackend() === 'basic_text'
        ? 'No key store (Secret Service or KWallet) was found, so the auth headers of your servers are only obfuscated, not encrypted with a key of your own'
        : null,
    encrypt: async (text) => (await safeStorage.encryptStringAsync(text)).toString('base64'),
    decrypt: async (data) =>
      (await safeStorage.decryptStringAsync(Buffer.from(data, 'base64'))).result
  }
}
