// The demo site served from the repository by the dev server (npm start): every page, end to end.
import { siteSuite } from './site-checks.mjs';

siteSuite('site');
