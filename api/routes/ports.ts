/**
 * Ports of a datapath: `GET|POST .../ports`, `GET|DELETE .../ports/{port}`
 * (name or number), `GET .../ports/{port}/stats`, and for `dummy` ports
 * `POST .../receive` (inject a frame, answer once it is processed) and
 * `GET|DELETE .../transmitted` (captured output frames as hex).
 *
 * Adds and removes go through `PmdControl.changePorts`
 * (datapath/pmd_control.ts): running PMD threads stop before the change and
 * start again over the new ports before the answer. When that restart fails the change stands, the error
 * is logged and the answer carries it as `pmd_restart_error`
 * (`{code, message}`; a DELETE then answers 200 with the port instead of
 * 204); `GET .../pmd` then shows 0 threads.
 *
 * @module
 */

import { Hono } from "hono";
import { type AppContext, portRef } from "../context.ts";
import { type ErrorBody, methodNotAllowed, toErrorResponse } from "../errors.ts";
import { bytesToHex, hexToBytes } from "../hex.ts";
import { addPortBody, readBody, receiveBody } from "../validate.ts";

/** Routes under `/v1/datapaths/:dp/ports`. */
export function portRoutes(ctx: AppContext): Hono {
  const app = new Hono();
  const { control, pmds } = ctx;
  /** The restart error as the answer reports it (logged), or undefined. */
  const restartFailure = (dpName: string, error: Error | null): ErrorBody["error"] | undefined => {
    if (error === null) return undefined;
    ctx.logger.error("pmd threads not restarted after a port change", { datapath: dpName, error });
    return toErrorResponse(error).body.error;
  };

  app.get("/", (c) => c.json({ ports: control.open(c.req.param("dp")!).listPorts() }));
  app.post("/", async (c) => {
    const dpName = c.req.param("dp")!;
    control.open(dpName); // ENOENT before the body is even looked at
    const body = await readBody(c.req.raw, addPortBody);
    const { result: info, restartError } = await pmds.changePorts(
      dpName,
      async () => {
        const added = control.addPort(dpName, body);
        await control.durable(); // a failed write's undo runs while the PMDs are stopped
        return added;
      },
    );
    ctx.logger.info("port added", { datapath: dpName, port: info.name, port_no: info.port_no });
    const failure = restartFailure(dpName, restartError);
    return c.json(failure === undefined ? info : { ...info, pmd_restart_error: failure }, 201);
  });
  app.all("/", methodNotAllowed(["GET", "POST"]));

  app.get("/:port", (c) => {
    const dp = control.open(c.req.param("dp")!);
    return c.json(dp.port(portRef(c.req.param("port"))));
  });
  app.delete("/:port", async (c) => {
    const dpName = c.req.param("dp")!;
    const ref = portRef(c.req.param("port"));
    control.open(dpName).port(ref); // ENOENT without pausing the PMDs
    const { result: info, restartError } = await pmds.changePorts(
      dpName,
      async () => {
        const removed = control.removePort(dpName, ref);
        await control.durable();
        return removed;
      },
    );
    ctx.logger.info("port deleted", { datapath: dpName, port: info.name });
    const failure = restartFailure(dpName, restartError);
    if (failure === undefined) return c.body(null, 204);
    return c.json({ ...info, pmd_restart_error: failure }, 200);
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
