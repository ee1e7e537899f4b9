// openid-client configured as a relying party is: discovery from the issuer URL, a client id, and the client
// authentication the test names ("basic", "post" or "none" for a public client). The local stack is http on
// loopback, hence allowInsecureRequests; enableNonRepudiationChecks makes the library verify id_token signatures.
import * as client from "openid-client";

export async function discover(settings) {
  const auth = {
    basic: () => client.ClientSecretBasic(settings.client_secret),
    post: () => client.ClientSecretPost(settings.client_secret),
    none: () => client.None(),
  }[settings.auth || "basic"]();
  return client.discovery(new URL(settings.issuer), settings.client_id, undefined, auth, {
    execute: [client.allowInsecureRequests, client.enableNonRepudiationChecks],
  });
}
