// aws-jwt-verify's CognitoJwtVerifier (AWS's own library) judging tokens, for comparison with qrlogin's verdicts.
//
//   echo '{"userPoolId", "clientId", "jwks", "tokens": {name: token}}' | node tests/idp/aws_jwt_verify.mjs
//   -> {name: "accepted" | "<the error's class>"}
//
// The pool's JWKS is handed over (cacheJwks) because the verifier derives the JWKS URL from the real
// Cognito host; the tokens come from moto's cognito-idp.
import { CognitoJwtVerifier } from 'aws-jwt-verify';

let input = '';
for await (const chunk of process.stdin) input += chunk;
const { userPoolId, clientId, jwks, tokens } = JSON.parse(input);

// tokenUse null: access and id tokens both, as qrlogin's PhoneJwtClientId accepts them.
const verifier = CognitoJwtVerifier.create({ userPoolId, clientId, tokenUse: null });
verifier.cacheJwks(jwks);

const verdicts = {};
for (const [name, token] of Object.entries(tokens)) {
  try {
    await verifier.verify(token);
    verdicts[name] = 'accepted';
  } catch (error) {
    verdicts[name] = error.constructor.name;
  }
}
console.log(JSON.stringify(verdicts));
