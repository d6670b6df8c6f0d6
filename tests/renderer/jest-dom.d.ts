// The jest-dom matchers (toHaveTextContent, ...) that tests/setup.ts adds to expect.
import '@testing-library/jest-dom/vitest'
