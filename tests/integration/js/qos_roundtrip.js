// MQTT.js against a running broker: for every (subscriber, publisher) pair of protocol
// versions 5 and 4 (3.1.1), subscribe at QoS 2, publish at QoS 1 and 2, and check that
// both arrive once with their QoS and payload, and that the publisher's flows complete
// (PUBACK, PUBREC/PUBREL/PUBCOMP: publishAsync resolves only then).
//
// Usage: node qos_roundtrip.js PORT|URL [CA_FILE]
//   PORT: mqtt://127.0.0.1:PORT; URL: any MQTT.js URL (mqtts://, ws://, wss://...);
//   CA_FILE: the CA that signed the broker's certificate, for mqtts:// and wss://.
// Exits 0 on success, 1 with a reason otherwise.
'use strict';

const fs = require('fs');
const mqtt = require('mqtt');

const target = process.argv[2] || '';
const url = /^\d+$/.test(target) ? `mqtt://127.0.0.1:${target}` : target;
if (!url) {
  console.error('usage: node qos_roundtrip.js PORT|URL [CA_FILE]');
  process.exit(2);
}
const ca = process.argv[3] ? fs.readFileSync(process.argv[3]) : undefined;

function connect(clientId, protocolVersion) {
  return mqtt.connectAsync(url, {
    clientId, protocolVersion, clean: true, reconnectPeriod: 0, connectTimeout: 5000,
    ca, servername: ca ? 'localhost' : undefined,
  });
}

function withTimeout(promise, ms, what) {
  let timer;
  const timeout = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out after ${ms} ms: ${what}`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function roundTrip(subVersion, pubVersion) {
  const tag = `js/${subVersion}-${pubVersion}`;
  const sub = await connect(`js-sub-${subVersion}-${pubVersion}`, subVersion);
  const pub = await connect(`js-pub-${subVersion}-${pubVersion}`, pubVersion);
  try {
    const received = [];
    let wake = null;
    sub.on('message', (topic, payload, packet) => {
      received.push({ topic, payload: payload.toString(), qos: packet.qos, retain: packet.retain });
      if (wake) wake();
    });
    const granted = await sub.subscribeAsync(`${tag}/#`, { qos: 2 });
    if (granted.length !== 1 || granted[0].qos !== 2) {
      throw new Error(`SUBACK granted ${JSON.stringify(granted)}, expected QoS 2`);
    }
    await pub.publishAsync(`${tag}/q1`, 'one', { qos: 1 });
    await pub.publishAsync(`${tag}/q2`, 'two', { qos: 2 });
    await withTimeout(new Promise((resolve) => {
      wake = () => { if (received.length >= 2) resolve(); };
      wake();
    }), 5000, `${tag}: got ${JSON.stringify(received)}`);
    // Anything extra (a duplicate) shows up within a short grace period.
    await new Promise((resolve) => setTimeout(resolve, 200));
    const want = [
      { topic: `${tag}/q1`, payload: 'one', qos: 1, retain: false },
      { topic: `${tag}/q2`, payload: 'two', qos: 2, retain: false },
    ];
    if (JSON.stringify(received) !== JSON.stringify(want)) {
      throw new Error(`${tag}: received ${JSON.stringify(received)}, expected ${JSON.stringify(want)}`);
    }
    console.log(`ok ${tag}`);
  } finally {
    await Promise.allSettled([sub.endAsync(), pub.endAsync()]);
  }
}

(async () => {
  for (const subVersion of [5, 4]) {
    for (const pubVersion of [5, 4]) {
      await withTimeout(roundTrip(subVersion, pubVersion), 15000, `round trip ${subVersion}/${pubVersion}`);
    }
  }
})().then(() => process.exit(0), (err) => {
  console.error(`FAIL ${err && err.stack ? err.stack : err}`);
  process.exit(1);
});
