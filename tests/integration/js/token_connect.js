// MQTT.js with a JWT as its password: connects with an empty client id (the broker
// assigns the token's subject), subscribes to ALLOWED and DENIED, publishes to ALLOWED
// at QoS 1 and waits for its own message, and publishes to DENIED at QoS 1 expecting
// the broker's refusal. Prints "ok <assigned client id> <suback codes>".
//
// Usage: node token_connect.js URL TOKEN ALLOWED DENIED [USERNAME]
//   USERNAME: MQTT.js sends a password only with a username; the broker wants the
//   token's subject there, if anything.
// Exits 0 on success, 1 with a reason otherwise (a connection that ends before CONNACK
// leaves MQTT.js's promise pending: the guard turns that into a failure).
'use strict';

const mqtt = require('mqtt');

const [url, token, allowed, denied, username] = process.argv.slice(2);
if (!denied) {
  console.error('usage: node token_connect.js URL TOKEN ALLOWED DENIED');
  process.exit(2);
}

const guard = setTimeout(() => {
  console.error('timed out (no CONNACK, or a step never completed)');
  process.exit(1);
}, 20000);

async function main() {
  const client = mqtt.connect(url, {
    clientId: '', protocolVersion: 5, clean: true, reconnectPeriod: 0, connectTimeout: 5000,
    username, password: token,
  });
  const connack = await new Promise((resolve, reject) => {
    client.once('connect', resolve);
    client.once('error', reject);
  });
  const assigned = (connack.properties || {}).assignedClientIdentifier;
  // MQTT.js rejects a SUBSCRIBE with any refused filter: one filter at a time.
  const granted = await client.subscribeAsync(allowed, { qos: 1 });
  let deniedCode = 'granted';
  try {
    await client.subscribeAsync(denied, { qos: 1 });
  } catch (e) {
    deniedCode = e.packet && e.packet.granted ? e.packet.granted[0] : String(e.message);
  }
  const codes = `${granted[0].qos},${deniedCode}`;
  const got = new Promise((resolve) => client.on('message', (topic, payload) => {
    if (topic === allowed) resolve(payload.toString());
  }));
  await client.publishAsync(allowed, 'hello', { qos: 1 });
  let timer;
  const payload = await Promise.race([got, new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error('own message not received')), 5000);
  })]).finally(() => clearTimeout(timer));  // a pending timer would hold node 5 s
  if (payload !== 'hello') throw new Error(`got ${payload}`);
  let refused = false;
  try {
    await client.publishAsync(denied, 'nope', { qos: 1 });
  } catch (e) {
    refused = /135|Not authorized/i.test(String(e.message || e.code || e));
    if (!refused) throw e;
  }
  if (!refused) throw new Error('publish outside the token\'s claims was accepted');
  await client.endAsync();
  clearTimeout(guard);
  console.log(`ok ${assigned} ${codes}`);
}

main().catch((e) => {
  console.error(String(e && e.stack || e));
  process.exit(1);
});
