// proxy-addr (Express's own dependency) ships without types: only what hookd calls.
declare module "proxy-addr" {
  import type { IncomingMessage } from "node:http";

  type Trust = (address: string, hop: number) => boolean;
  function proxyaddr(req: IncomingMessage, trust: Trust | string | string[]): string;
  namespace proxyaddr {
    /** Throws TypeError ("invalid IP address: x", "invalid range on address: x") for what it cannot read. */
    function compile(value: string | string[]): Trust;
  }
  export = proxyaddr;
}
