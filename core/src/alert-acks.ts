/**
 * Acknowledgements (POST /alerts/:id/ack) as the evaluator reads them: one hash (keys.ts
 * `alertKeys().acks`), a field per rule and device (`<ruleId>|<deviceId>`) while its alert is acknowledged.
 * The API writes it; the evaluator skips that device's reminders while it is there and removes it
 * when the device fires anew or resolves, so an acknowledgement covers one firing, not the next.
 */
export const alertAckField = (ruleId: string, deviceId: string) => `${ruleId}|${deviceId}`;
