-- Shared by every wrk script: prints one JSON line with the measurement (`done` runs once,
-- after all threads finished). Errors are non-2xx/3xx answers plus socket errors.
function done(summary, latency, requests)
  local e = summary.errors
  local errors = e.connect + e.read + e.write + e.status + e.timeout
  io.write(string.format(
    '{"requests":%d,"duration_s":%.6f,"p50_ms":%.3f,"p99_ms":%.3f,"errors":%d,'
      .. '"error_samples":["status %d, connect %d, read %d, write %d, timeout %d"]}\n',
    summary.requests, summary.duration / 1e6,
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, errors,
    e.status, e.connect, e.read, e.write, e.timeout))
end
