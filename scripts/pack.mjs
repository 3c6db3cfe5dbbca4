// Packs what `npm install taskloom` gets, the way a release publishes it: the platform
// package of a built binary (with the LICENSE), and the main package with the exact-version
// `optionalDependencies` on every platform package that `napi prepublish` writes at
// publish time. Used by the install test (scripts/install-test.sh); the release workflow
// publishes with napi's own commands (.github/workflows/release.yml).
//
//   node scripts/pack.mjs <binary.node> <out dir>
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const [binary, outDir] = process.argv.slice(2)
if (!binary || !outDir) {
  console.error('usage: node scripts/pack.mjs <binary.node> <out dir>')
  process.exit(2)
}
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8'))
fs.mkdirSync(outDir, { recursive: true })
const stage = fs.mkdtempSync(path.join(outDir, 'stage-'))

/** npm/<dir> of a target triple, as napi-rs names them. */
function platformDir(triple) {
  const [arch, , os, abi] = triple.split('-')
  const nodeArch = { x86_64: 'x64', aarch64: 'arm64' }[arch]
  const nodeOs = { linux: 'linux', apple: 'darwin', darwin: 'darwin', pc: 'win32', windows: 'win32' }[os] ?? os
  if (triple.includes('apple')) return `darwin-${nodeArch}`
  if (triple.includes('windows')) return `win32-${nodeArch}-${abi}`
  return `${nodeOs}-${nodeArch}-${abi}`
}

function npmPack(dir) {
  const out = execFileSync('npm', ['pack', '--json', '--pack-destination', path.resolve(outDir)], { cwd: dir, encoding: 'utf8' })
  return path.join(path.resolve(outDir), JSON.parse(out)[0].filename)
}

// The platform package of this binary.
const name = path.basename(binary) // taskloom.<platform>.node
const dir = pkg.napi.targets.map(platformDir).find((d) => name === `${pkg.napi.binaryName}.${d}.node`)
if (dir === undefined) throw new Error(`${name} is not the binary of any target in package.json's napi.targets`)
const platformStage = path.join(stage, dir)
fs.mkdirSync(platformStage)
fs.copyFileSync(path.join(root, 'npm', dir, 'package.json'), path.join(platformStage, 'package.json'))
fs.copyFileSync(path.join(root, 'npm', dir, 'README.md'), path.join(platformStage, 'README.md'))
fs.copyFileSync(path.join(root, 'LICENSE'), path.join(platformStage, 'LICENSE'))
fs.copyFileSync(binary, path.join(platformStage, name))
const platformTarball = npmPack(platformStage)

// The main package, as published.
const mainStage = path.join(stage, 'taskloom')
fs.mkdirSync(mainStage)
for (const entry of [...pkg.files, 'README.md']) {
  fs.cpSync(path.join(root, entry), path.join(mainStage, entry), { recursive: true })
}
const published = { ...pkg }
delete published.devDependencies
published.scripts = {}
published.optionalDependencies = Object.fromEntries(pkg.napi.targets.map((t) => [`${pkg.name}-${platformDir(t)}`, pkg.version]))
fs.writeFileSync(path.join(mainStage, 'package.json'), JSON.stringify(published, null, 2) + '\n')
const mainTarball = npmPack(mainStage)

fs.rmSync(stage, { recursive: true, force: true })
console.log(JSON.stringify({ main: mainTarball, platform: platformTarball }))
