/** One line of replay progress for a terminal: share of the file, readings, rate and time left. */
export function replayProgressLine(state: {
  bytes: number;
  totalBytes: number;
  readings: number;
  seconds: number;
}): string {
  const { bytes, totalBytes, readings, seconds } = state;
  const share = totalBytes > 0 ? Math.min(100, (bytes / totalBytes) * 100) : 0;
  const rate = seconds > 0 ? readings / seconds : 0;
  const bytesPerSecond = seconds > 0 ? bytes / seconds : 0;
  const eta = bytesPerSecond > 0 ? Math.max(0, Math.round((totalBytes - bytes) / bytesPerSecond)) : undefined;
  return `replay ${share.toFixed(0)}% · ${readings.toLocaleString('en')} readings · ${Math.round(rate).toLocaleString('en')}/s${eta === undefined ? '' : ` · ETA ${eta} s`}`;
}
