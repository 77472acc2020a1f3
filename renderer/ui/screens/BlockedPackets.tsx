import type { PacketRow } from '../../../electron/shared/api.ts';
import { selectFilteredPackets } from '../../store/selectors.ts';
import { MAX_PACKET_ROWS } from '../../store/store.ts';
import { useActions, useApp } from '../context.ts';
import { fmtCount, fmtDateTime } from '../format.ts';
import { type Column, VirtualTable } from './common.tsx';

const COLUMNS: Column<PacketRow>[] = [
  { key: 'time', label: 'Time', width: '150px', render: (r) => fmtDateTime(r.time) },
  { key: 'src', label: 'Source', width: 'minmax(140px, 1.4fr)', render: (r) => <span className="mono">{r.src}</span> },
  { key: 'dst', label: 'Destination', width: 'minmax(120px, 1fr)', render: (r) => <span className="mono">{r.dst}</span> },
  { key: 'proto', label: 'Proto', width: '64px', render: (r) => r.proto },
  { key: 'spt', label: 'Src port', width: '76px', className: 'num', render: (r) => r.spt ?? '' },
  { key: 'dpt', label: 'Dst port', width: '76px', className: 'num', render: (r) => r.dpt ?? '' },
  { key: 'flags', label: 'Flags', width: '90px', render: (r) => r.flags },
  { key: 'in', label: 'In', width: '70px', render: (r) => r.in },
  // Wide enough for the longest prefix Portcullis counts ("PORTCULLIS BLOCK"; it was cut at 110px); the title shows any longer one whole.
  { key: 'prefix', label: 'Prefix', width: 'minmax(150px, 1fr)', render: (r) => <span title={r.prefix}>{r.prefix}</span> },
];

export function BlockedPackets() {
  const filtered = useApp(selectFilteredPackets);
  const filter = useApp((s) => s.packetFilter);
  const paused = useApp((s) => s.packetsPaused);
  const held = useApp((s) => s.heldPackets.length);
  const inMemory = useApp((s) => s.packets.length);
  const total = useApp((s) => s.state?.counts.blockedPackets ?? null);
  const notStored = useApp((s) => s.state?.counts.packetsNotStored ?? 0);
  const loadError = useApp((s) => s.loadErrors.packets);
  const missing = useApp((s) => s.packetsMissing);
  const { setPacketFilter, clearPacketFilter, setPacketsPaused, exportPacketsCsv } = useActions();
  const err = filtered.error;
  const input = (key: keyof typeof filter, label: string, placeholder: string, width: string) => (
    <div className={`field inline ${err?.field === key ? 'field-invalid' : ''}`} style={{ width }}>
      <label htmlFor={`pf-${key}`}>{label}</label>
      <input
        id={`pf-${key}`}
        value={filter[key]}
        placeholder={placeholder}
        spellCheck={false}
        aria-invalid={err?.field === key}
        aria-describedby="pf-msg"
        onChange={(e) => setPacketFilter({ [key]: e.target.value })}
      />
    </div>
  );
  return (
    <div className="screen screen-fill">
      <header className="screen-head">
        <h1>Blocked packets</h1>
        <div className="row gap">
          <button type="button" aria-pressed={paused} onClick={() => setPacketsPaused(!paused)}>
            {paused ? `Resume live (${fmtCount(held)} new)` : 'Pause live updates'}
          </button>
          <button type="button" disabled={filtered.rows.length === 0 || err !== null} onClick={() => exportPacketsCsv(filtered.rows)}>
            Export CSV
          </button>
        </div>
      </header>
      <form className="filters" role="search" aria-label="Filter blocked packets" onSubmit={(e) => e.preventDefault()}>
        {input('src', 'Source', 'address, prefix or CIDR', '240px')}
        {input('port', 'Port', 'e.g. 22', '100px')}
        <div className="field inline" style={{ width: '120px' }}>
          <label htmlFor="pf-proto">Protocol</label>
          <select id="pf-proto" value={filter.proto} onChange={(e) => setPacketFilter({ proto: e.target.value })}>
            <option value="">any</option>
            <option value="TCP">TCP</option>
            <option value="UDP">UDP</option>
            <option value="ICMP">ICMP</option>
            <option value="ICMPv6">ICMPv6</option>
          </select>
        </div>
        {input('prefix', 'Log prefix', 'e.g. UFW BLOCK', '180px')}
        <button type="button" className="ghost" onClick={clearPacketFilter}>
          Clear
        </button>
      </form>
      <div className="status-line" id="pf-msg" role={err ? 'alert' : 'status'}>
        {err ? (
          <span className="error-text">{err.message}</span>
        ) : (
          <>
            <span data-testid="packets-shown">{fmtCount(filtered.rows.length)}</span> shown of {fmtCount(inMemory)} in this window
            {total !== null && total > inMemory && (
              // While paused the new rows are held back, not dropped: say so, rather than blaming the window's size.
              <> ({fmtCount(total)} recorded; {paused ? 'the newer ones show when you resume' : `the window keeps the last ${fmtCount(MAX_PACKET_ROWS)}`})</>
            )}
            {notStored > 0 && <span data-testid="packets-not-stored"> · {fmtCount(notStored)} packets not stored during a flood (counted; over the per-second cap in Settings)</span>}
            {paused && <strong> · paused</strong>}
            {missing > 0 && <span className="warn-text"> · {fmtCount(missing)} rows skipped by the live stream, fetching them…</span>}
            {loadError && <span className="error-text"> · {loadError}</span>}
          </>
        )}
      </div>
      <VirtualTable
        rows={filtered.newestFirst}
        columns={COLUMNS}
        rowKey={(r) => r.id}
        label="Blocked packets"
        height="calc(100vh - 250px)"
        empty="No blocked packets match."
        testId="packets-table"
      />
    </div>
  );
}
