import WebSocket from 'ws';
const send = process.argv[2] === 'send';
const ws = new WebSocket(`ws://127.0.0.1:8799/?room=r${Date.now()}&close_after=1000&hello=${process.env.HELLO ?? 1}`);
let frameAt;
ws.on('open', () => { if (send) ws.send('hi'); });
ws.on('message', (m) => {});
const poll = setInterval(() => { if (!frameAt && ws._closeFrameReceived) frameAt = Date.now(); }, 5);
ws.on('close', (code) => { clearInterval(poll); console.log(send ? 'sent' : 'silent', code, 'close event', Date.now() - frameAt, 'ms after frame'); process.exit(0); });
