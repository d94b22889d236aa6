// A real TimescaleDB (2.23, compiled to WebAssembly inside PGlite) served over the PostgreSQL wire
// protocol, for the storage and query tests. In-memory: every run starts from an empty database.
// Limits of this server (DESIGN.md section 1): one shared backend session, no COPY FROM STDIN, no
// background workers (policies run only via CALL run_job), no prepared statements across clients.
import { PGlite } from '@electric-sql/pglite'
import { timescaledb } from '@electric-sql/pglite/timescaledb'
import { PGLiteSocketServer } from '@electric-sql/pglite-socket'

const port = Number(process.env.PORT || 55433)
const db = await PGlite.create({ extensions: { timescaledb } })
// pglite-socket 0.2.x calls execProtocolRawStream, which this PGlite build lacks.
if (typeof db.execProtocolRawStream !== 'function') {
  db.execProtocolRawStream = async (message, { onRawData }) => {
    onRawData(await db.execProtocolRaw(message))
  }
}
// The extension must be loaded before CREATE EXTENSION on this build.
await db.exec("LOAD 'timescaledb'")
await db.exec('CREATE EXTENSION IF NOT EXISTS timescaledb')
const server = new PGLiteSocketServer({ db, port, host: '127.0.0.1', maxConnections: 64 })
await server.start()
console.log(`timescaledb-pglite ready on 127.0.0.1:${port}`)

const stop = async () => { await server.stop(); await db.close(); process.exit(0) }
process.on('SIGINT', stop)
process.on('SIGTERM', stop)
