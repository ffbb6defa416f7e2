/**
 * The service's Prometheus metrics, kept in this process and rendered in the text exposition format
 * (version 0.0.4) by hand: request counts by route and status, and the bytes saved into storage.
 * Gauges read from the database at scrape time are passed to {@link ServiceMetrics.render}.
 */
export interface GaugeSample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

export interface Gauge {
  readonly name: string;
  readonly help: string;
  readonly samples: readonly GaugeSample[];
}

export class ServiceMetrics {
  readonly #requests = new Map<string, { labels: Record<string, string>; count: number }>();
  #storedBytes = 0;

  /** Counts one answered request; `route` is the route's pattern (`/v1/vaults/:vaultId`), never the raw URL. */
  recordRequest(method: string, route: string, status: number): void {
    const labels = { method, route, status: String(status) };
    const key = JSON.stringify(labels);
    const entry = this.#requests.get(key);
    if (entry) entry.count++;
    else this.#requests.set(key, { labels, count: 1 });
  }

  /** Adds bytes that were saved into a vault's storage (the vault object routes call it after each save). */
  addStoredBytes(bytes: number): void {
    this.#storedBytes += bytes;
  }

  /** The exposition text: the counters of this process followed by `gauges`. */
  render(gauges: readonly Gauge[]): string {
    const lines: string[] = [];
    lines.push('# HELP ferry_http_requests_total HTTP requests answered, by method, route pattern and status.');
    lines.push('# TYPE ferry_http_requests_total counter');
    for (const { labels, count } of this.#requests.values()) lines.push(`ferry_http_requests_total${formatLabels(labels)} ${count}`);
    lines.push('# HELP ferry_stored_bytes_total Bytes saved into vault storage by this process.');
    lines.push('# TYPE ferry_stored_bytes_total counter');
    lines.push(`ferry_stored_bytes_total ${this.#storedBytes}`);
    for (const gauge of gauges) {
      lines.push(`# HELP ${gauge.name} ${gauge.help}`);
      lines.push(`# TYPE ${gauge.name} gauge`);
      for (const sample of gauge.samples) lines.push(`${gauge.name}${formatLabels(sample.labels)} ${sample.value}`);
    }
    return lines.join('\n') + '\n';
  }
}

function formatLabels(labels: Readonly<Record<string, string>>): string {
  const entries = Object.entries(labels);
  if (entries.length === 0) return '';
  return `{${entries.map(([k, v]) => `${k}="${v.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n')}"`).join(',')}}`;
}
