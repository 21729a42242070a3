// ESLint flat config. `npm run lint` runs ESLint, then Prettier's check (formatting is Prettier's alone:
// eslint-config-prettier turns off every stylistic rule that could disagree with it).
import js from '@eslint/js';
import prettier from 'eslint-config-prettier';
import tseslint from 'typescript-eslint';

/**
 * The core's purity (README, "Design notes"): no timers, clocks, randomness,
 * promises, I/O, events or validation library in src/core, which only
 * imports its own files and ../messages.js. test/core/purity.test.ts plants
 * each forbidden use and checks that these rules report it.
 */
const timeAndIo = ['setTimeout', 'setInterval', 'setImmediate', 'queueMicrotask', 'clearTimeout', 'clearInterval'];
const coreGlobals = [
  ...timeAndIo.map((name) => ({ name, message: 'The core is driven by tick(); timers belong to the shell.' })),
  { name: 'Date', message: 'The core has no clock: time enters only through tick().' },
  { name: 'performance', message: 'The core has no clock: time enters only through tick().' },
  { name: 'Promise', message: 'The core never waits: it answers synchronously with a Ready.' },
  { name: 'process', message: 'The core does no I/O and reads no environment.' },
  { name: 'require', message: 'The core imports only its own files and ../messages.js.' },
  { name: 'EventEmitter', message: 'Events come from the shell, after state is durable.' },
];

export default tseslint.config(
  {
    ignores: ['dist/**', 'node_modules/**', 'coverage/**', '.tmp/**', 'reports/**', '.stryker-tmp/**'],
  },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    languageOptions: {
      ecmaVersion: 2022,
      sourceType: 'module',
      globals: {
        console: 'readonly',
        process: 'readonly',
        Buffer: 'readonly',
        setTimeout: 'readonly',
        clearTimeout: 'readonly',
        setInterval: 'readonly',
        clearInterval: 'readonly',
        setImmediate: 'readonly',
        clearImmediate: 'readonly',
        queueMicrotask: 'readonly',
        performance: 'readonly',
        structuredClone: 'readonly',
        TextEncoder: 'readonly',
        TextDecoder: 'readonly',
        URL: 'readonly',
        AbortController: 'readonly',
        AbortSignal: 'readonly',
        DOMException: 'readonly',
      },
    },
    rules: {
      // Unused arguments named with a leading underscore are deliberate (interface conformance).
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrors: 'none' },
      ],
      // Non-null assertions are allowed where a type cannot express what the code knows.
      '@typescript-eslint/no-non-null-assertion': 'off',
      eqeqeq: ['error', 'always'],
      'no-console': 'off',
    },
  },
  {
    files: ['src/core/**/*.ts'],
    rules: {
      'no-restricted-globals': ['error', ...coreGlobals],
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              regex: '^(?!\\./|\\.\\./messages\\.js$)',
              message: 'The core imports only its own files and ../messages.js (the layer rule).',
            },
          ],
        },
      ],
      'no-restricted-syntax': [
        'error',
        { selector: ':function[async=true]', message: 'The core never waits: no async functions.' },
        { selector: 'AwaitExpression', message: 'The core never waits: no await.' },
        { selector: 'ImportExpression', message: 'The core does no dynamic imports.' },
        {
          selector: "MemberExpression[object.name='Math'][property.name='random']",
          message: 'The core draws randomness only from the injected seeded PRNG (config.random).',
        },
        {
          selector: "MemberExpression[object.name='globalThis']",
          message: 'The core reaches no globals through globalThis.',
        },
      ],
    },
  },
  prettier,
);
