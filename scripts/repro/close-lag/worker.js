import { DurableObject } from 'cloudflare:workers';
export class Room extends DurableObject {
  async fetch(req) {
    const url = new URL(req.url);
    const pair = new WebSocketPair();
    this.ctx.acceptWebSocket(pair[1]);
    if (url.searchParams.get('hello') !== '0') pair[1].send(JSON.stringify({ type: 'connected' }));
    const ms = Number(url.searchParams.get('close_after') ?? 1000);
    await this.ctx.storage.setAlarm(Date.now() + ms);
    return new Response(null, { status: 101, webSocket: pair[0] });
  }
  async alarm() {
    console.log('alarm close', Date.now() % 100000); for (const ws of this.ctx.getWebSockets()) ws.close(4001, 'expired');
  }
  async webSocketMessage(ws, msg) { if (msg !== 'quiet') ws.send('echo'); }
  // Fires ~5 ms after the alarm's close for both clients: the client's reply is read at once.
  async webSocketClose(ws, code, reason) { console.log('webSocketClose', code, Date.now() % 100000); }
}
export default {
  async fetch(req, env) {
    const id = env.ROOM.idFromName(new URL(req.url).searchParams.get('room') ?? 'a');
    return env.ROOM.get(id).fetch(req);
  }
};
