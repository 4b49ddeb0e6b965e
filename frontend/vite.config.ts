import react from '@vitejs/plugin-react'
import { defineConfig } from 'vitest/config'

// Stable file names: Django templates reference dashboard/main.js and dashboard/main.css directly, and CI
// rebuilds and diffs frontend/dist to prove the committed build is the build of the committed source.
export default defineConfig({
    plugins: [react()],
    base: '/static/',
    build: {
        outDir: 'dist',
        emptyOutDir: true,
        sourcemap: false,
        chunkSizeWarningLimit: 1200,
        rollupOptions: {
            input: { main: 'src/main.tsx' },
            output: {
                entryFileNames: 'dashboard/[name].js',
                chunkFileNames: 'dashboard/[name].js',
                assetFileNames: 'dashboard/[name][extname]',
            },
        },
    },
    test: {
        environment: 'jsdom',
        globals: true,
        include: ['src/**/*.test.ts', 'src/**/*.test.tsx', 'scripts/**/*.test.mjs'],
        setupFiles: ['src/setupTests.ts'],
    },
})
