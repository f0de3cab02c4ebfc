using Workerd = import "/workerd/workerd.capnp";
const config :Workerd.Config = (
  services = [ (name = "main", worker = .w), (name = "disk", disk = (path = "./do", writable = true)) ],
  sockets = [ (name = "http", address = "127.0.0.1:8799", http = (), service = "main") ],
);
const w :Workerd.Worker = (
  modules = [ (name = "worker.js", esModule = embed "worker.js") ],
  compatibilityDate = "2026-04-20",
  durableObjectNamespaces = [ (className = "Room", uniqueKey = "room-key", enableSql = true) ],
  durableObjectStorage = (localDisk = "disk"),
  bindings = [ (name = "ROOM", durableObjectNamespace = "Room") ],
);
