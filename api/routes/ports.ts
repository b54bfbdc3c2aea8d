/**
 * Ports of a datapath: `GET|POST .../ports`, `GET|DELETE .../ports/{port}`
 * (name or number), `GET .../ports/{port}/stats`, and for `dummy` ports
 * `POST .../receive` (inject a frame, answer once it is processed) and
 * `GET|DELETE .../transmitted` (captured output frames as hex).
 *
 * @module
 */

import { Hono } from "hono";
import { type AppContext, portRef } from "../context.ts";
import { methodNotAllowed } from "../errors.ts";
import { bytesToHex, hexToBytes } from "../hex.ts";
import { addPortBody, readBody, receiveBody } from "../validate.ts";

/** Routes under `/v1/datapaths/:dp/ports`. */
export function portRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const { control } = ctx;

  app.get("/", (c) => c.json({ ports: control.open(c.req.param("dp")!).listPorts() }));
  app.post("/", async (c) => {
    const dpName = c.req.param("dp")!;
    control.open(dpName); // ENOENT before the body is even looked at
    const body = await readBody(c.req.raw, addPortBody);
    const info = control.addPort(dpName, body);
    ctx.logger.info("port added", { datapath: dpName, port: info.name, port_no: info.port_no });
    return c.json(info, 201);
  });
  app.all("/", methodNotAllowed(["GET", "POST"]));

  app.get("/:port", (c) => {
    const dp = control.open(c.req.param("dp")!);
    return c.json(dp.port(portRef(c.req.param("port"))));
  });
  app.delete("/:port", (c) => {
    const dpName = c.req.param("dp")!;
    const info = control.removePort(dpName, portRef(c.req.param("port")));
    ctx.logger.info("port deleted", { datapath: dpName, port: info.name });
    return c.body(null, 204);
  });
  app.all("/:port", methodNotAllowed(["GET", "DELETE"]));

  app.get("/:port/stats", (c) => {
    const dp = control.open(c.req.param("dp")!);
    return c.json(dp.portStats(portRef(c.req.param("port"))));
  });
  app.all("/:port/stats", methodNotAllowed(["GET"]));

  app.post("/:port/receive", async (c) => {
    const dp = control.open(c.req.param("dp")!);
    const ref = portRef(c.req.param("port"));
    const port = dp.dummyPort(ref); // ENOENT, EOPNOTSUPP before reading the body
    const body = await readBody(c.req.raw, receiveBody);
    const frame = hexToBytes(body.packet);
    ctx.captures.record(dp.name, port.name, frame);
    const received = dp.receive(ref, frame);
    ctx.captures.collectTransmitted(dp);
    return c.json({ received });
  });
  app.all("/:port/receive", methodNotAllowed(["POST"]));

  app.get("/:port/transmitted", (c) => {
    const dp = control.open(c.req.param("dp")!);
    const port = dp.dummyPort(portRef(c.req.param("port")));
    return c.json({ packets: port.transmitted().map(bytesToHex) });
  });
  app.delete("/:port/transmitted", (c) => {
    const dp = control.open(c.req.param("dp")!);
    dp.dummyPort(portRef(c.req.param("port"))).clearTransmitted();
    return c.body(null, 204);
  });
  app.all("/:port/transmitted", methodNotAllowed(["GET", "DELETE"]));
  return app;
}
