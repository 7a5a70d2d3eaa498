/**
 * The `AuthRequired` selection (a user-interactive authentication challenge), shared by every
 * test operation that can answer one (`register`, `changePassword`, `deleteDevice`…): spread
 * `...AuthRequiredChallenge` into the operation and codegen adds this fragment to its document.
 */
import { graphql } from '../generated/gql.ts';

export const AuthRequiredChallenge = graphql(`
  fragment AuthRequiredChallenge on AuthRequired {
    session
    flows {
      stages
    }
    completed
    params
    clientMutationId
  }
`);
