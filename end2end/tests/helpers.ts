import { APIRequestContext, expect, Page } from '@playwright/test';

export type Receipt = { productId: string; aggregateVersion: number; eventIds: string[] };

/** The admin account the server creates at its first start (playwright.config.ts). */
export const ADMIN = {
  email: process.env.VITRINE_ADMIN_EMAIL ?? 'admin@e2e.example',
  password: process.env.VITRINE_ADMIN_PASSWORD ?? 'e2e-admin-password',
};

/** Signs in through the JSON API; the context keeps the session cookie
 *  (a page's `page.context().request` shares it with the browser). */
export async function signIn(request: APIRequestContext, who = ADMIN) {
  const response = await request.post('/api/auth/login', { data: who });
  expect(response.status()).toBe(200);
}

/** Creates a product through the JSON API (as the admin) and waits until its
 *  read record exists. */
export async function createProduct(
  request: APIRequestContext,
  name: string,
  price: number,
  stock = 5,
): Promise<string> {
  await signIn(request);
  const response = await request.post('/api/products', {
    data: { name, category: 'E2E', price, stock },
  });
  expect(response.status()).toBe(201);
  const receipt = (await response.json()) as Receipt;
  await expect
    .poll(async () => (await request.get(`/api/products/${receipt.productId}`)).status())
    .toBe(200);
  return receipt.productId;
}

export async function productJson(request: APIRequestContext, id: string) {
  const response = await request.get(`/api/products/${id}`);
  expect(response.status()).toBe(200);
  return response.json();
}

/** The page is hydrated and its live feed is connected. */
export async function waitForLive(page: Page) {
  await expect(page.getByTestId('live-badge')).toHaveAttribute('data-state', 'live');
}

/** Holds the change_price server function's answer back, as a slow network would. */
export async function delayPriceCommands(page: Page, ms: number) {
  await page.route('**/rpc/change_price*', async (route) => {
    const response = await route.fetch();
    await new Promise((r) => setTimeout(r, ms));
    await route.fulfill({ response });
  });
}
