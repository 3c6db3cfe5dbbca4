// A real small tmpfs for disk-full tests: mounted in a fresh folder, unmounted after.
import { execFileSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'

/**
 * Mounts a tmpfs of `size` (e.g. '3m'); returns `{ dir, unmount }`, or `{ reason }` when
 * this machine cannot mount one (not root, no mount command): the caller fails, saying why.
 */
export function mountTmpfs(size) {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'taskloom-tmpfs-'))
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${size}`, 'tmpfs', dir], { stdio: 'pipe' })
  } catch (err) {
    fs.rmSync(dir, { recursive: true, force: true })
    return { reason: `cannot mount a tmpfs here (${String(err.stderr || err.message).trim()})` }
  }
  return {
    dir,
    unmount() {
      execFileSync('umount', ['-l', dir], { stdio: 'pipe' })
      fs.rmSync(dir, { recursive: true, force: true })
    },
  }
}

/** Fills `file` with zeros until the file system is full; returns the bytes written. */
export function fillUp(file) {
  const chunk = Buffer.alloc(64 * 1024)
  const fd = fs.openSync(file, 'w')
  let written = 0
  try {
    for (;;) written += fs.writeSync(fd, chunk)
  } catch (err) {
    if (err.code !== 'ENOSPC') throw err
  } finally {
    fs.closeSync(fd)
  }
  return written
}
