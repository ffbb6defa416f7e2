// The hostile-request corpus against one part of the routes (the parts and what is checked: testing/hostile-run.ts).
import { describeHostileCorpus, HOSTILE_FIXTURE_OPTIONS, HOSTILE_PARTS } from '../testing/hostile-run.js';
import { startServiceFixture } from '../testing/service-fixture.js';

describeHostileCorpus(HOSTILE_PARTS.rest, () => startServiceFixture(HOSTILE_FIXTURE_OPTIONS));
