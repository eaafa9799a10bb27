// Who may register a new miner. Miners are strangers: with open, unlimited
// registration one person made 2,000 miners in 1.9 s. MIA_MINER_REGISTRATION:
//  - open:   anyone, at most MIA_MINER_REGISTRATION_PER_HOUR new miners per client
//            IP and API process (a token bucket, like the per-key rate limits);
//  - token:  whoever sends the shared MIA_MINER_ENROLMENT_TOKEN as `enrolment_token`
//            (the operator hands it to the volunteers it knows); the production default;
//  - closed: the operator only (its bearer token on POST /register_miner).
// The operator may always register; a miner re-registering with its own key is not
// a new registration and is never refused here. In token mode, wrong tokens are
// limited per client IP (MIA_ENROLMENT_FAILURES_PER_MINUTE): 2,000 guesses went
// through at 196/s before. The limit is checked before the token is compared, so a
// guesser past it learns nothing, whatever it sends.
import type { Config } from '../config.ts';
import type { Principal } from './principal.ts';
import { secretsEqual } from './secrets.ts';
import { ForbiddenError } from '../errors.ts';
import { RateLimitedError, TokenBuckets } from '../http/rateLimit.ts';

export class RegistrationPolicy {
  private readonly perIp: TokenBuckets;
  private readonly wrongTokens: TokenBuckets;

  constructor(
    private readonly config: Pick<
      Config,
      'MIA_MINER_REGISTRATION' | 'MIA_MINER_ENROLMENT_TOKEN' | 'MIA_MINER_REGISTRATION_PER_HOUR' | 'MIA_ENROLMENT_FAILURES_PER_MINUTE'
    >,
  ) {
    const perHour = config.MIA_MINER_REGISTRATION_PER_HOUR;
    this.perIp = new TokenBuckets({ ratePerSecond: perHour / 3600, burst: Math.max(1, perHour) });
    const perMinute = config.MIA_ENROLMENT_FAILURES_PER_MINUTE;
    this.wrongTokens = new TokenBuckets({ ratePerSecond: perMinute / 60, burst: Math.max(1, perMinute) });
  }

  /**
   * A business-scoped enrolment token (mia_et_…, README "Pools"): `owner` is the
   * business it belongs to, or null when no business has it. Admits the miner in every
   * mode (the business vouches for its own machines); a wrong one counts toward the
   * same per-address limit as a wrong shared token.
   */
  admitOwnMiner(owner: string | null, ip: string): void {
    const wait = this.wrongTokens.wait(ip);
    if (wait > 0) throw new RateLimitedError(wait, 'too many wrong enrolment tokens from this address');
    if (owner === null) {
      this.wrongTokens.take(ip);
      throw new ForbiddenError('enrolment_token is not a token any business issued');
    }
  }

  /** Throws 403 (not allowed in this mode) or 429 (open mode, this IP registered too many). */
  admitNewMiner(principal: Principal | null, enrolmentToken: string | undefined, ip: string): void {
    if (principal?.kind === 'operator') return;
    switch (this.config.MIA_MINER_REGISTRATION) {
      case 'closed':
        throw new ForbiddenError('miner registration is closed: the operator registers miners (POST /register_miner with the operator token)');
      case 'token': {
        const expected = this.config.MIA_MINER_ENROLMENT_TOKEN!;
        if (enrolmentToken === undefined) throw new ForbiddenError('miner registration needs the enrolment token: send it as enrolment_token');
        const wait = this.wrongTokens.wait(ip);
        if (wait > 0) throw new RateLimitedError(wait, 'too many wrong enrolment tokens from this address');
        if (!secretsEqual(enrolmentToken, expected)) {
          this.wrongTokens.take(ip);
          throw new ForbiddenError('enrolment_token is not the one this backend hands out');
        }
        return;
      }
      case 'open': {
        const wait = this.perIp.take(ip);
        if (wait > 0) throw new RateLimitedError(wait);
      }
    }
  }
}
