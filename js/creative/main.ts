/** Entry of the local creative's bundle (`kontext_widget/_local_server/creative/creative.js`). */

import { startCreative } from "./creative";

startCreative(window);
