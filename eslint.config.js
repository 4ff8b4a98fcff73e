import js from '@eslint/js'
import tseslint from 'typescript-eslint'
import globals from 'globals'

export default tseslint.config(
  { ignores: ['dist/', 'dist-*/', 'node_modules/', 'src/pb/', 'scratch/', 'src/ui/static/vendor/', 'test-output/', 'test/types/'] },
  js.configs.recommended,
  {
    files: ['**/*.ts'],
    extends: [...tseslint.configs.recommendedTypeChecked],
    languageOptions: {
      parserOptions: { project: './tsconfig.json', tsconfigRootDir: import.meta.dirname }
    },
    rules: {
      '@typescript-eslint/consistent-type-imports': 'error',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      '@typescript-eslint/no-floating-promises': 'error',
      '@typescript-eslint/no-misused-promises': 'error',
      // passing on a caught error or an abort reason (any / unknown) is by design,
      // as only-throw-error allows for throw; literals and non-errors still fail
      '@typescript-eslint/prefer-promise-reject-errors': ['error', { allowThrowingAny: true, allowThrowingUnknown: true }]
    }
  },
  {
    files: ['**/*.js'],
    extends: [...tseslint.configs.recommended],
    languageOptions: { globals: globals.node }
  },
  {
    // the web view's page: browser modules, no build step
    files: ['src/ui/static/**/*.js'],
    languageOptions: { globals: globals.browser, sourceType: 'module' }
  }
)
